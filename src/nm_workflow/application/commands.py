"""The one write path every command takes.

read what the command needs in one round trip and check the caller's key
(ADR 0027) -> authorize the role -> replay a known idempotency key -> check
If-Match -> pin the policy version in force (ADR 0017) -> authorize the
department (ADR 0016) -> let the domain decide, stamping metadata (the
policy version among it) -> save the events and the idempotency record in
one transaction. Later additions to the write path (hash chain, group
commit, snapshots) belong here or in EventStore.record, not in the use cases.
Each command is counted by outcome (application/command_outcomes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

from nm_workflow.application.clock import Clock, system_clock
from nm_workflow.application.command_context import CommandContext as CommandContext
from nm_workflow.application.command_context import CommandResult as CommandResult
from nm_workflow.application.command_outcomes import counted
from nm_workflow.application.command_reads import CommandRead
from nm_workflow.application.errors import (
    ConcurrentModification,
    IdempotencyKeyReused,
    NoSuchVersion,
    NotFound,
    VersionMismatch,
)
from nm_workflow.application.idempotency import fingerprint, recorded
from nm_workflow.application.policy_book import book_of
from nm_workflow.application.security import Command, authorize
from nm_workflow.application.store import EventStore
from nm_workflow.domain.errors import DomainError
from nm_workflow.domain.metadata import EventMetadata, WorkflowAggregate, recording
from nm_workflow.domain.roles import Role

A = TypeVar("A", bound=WorkflowAggregate)


def department_of(aggregate: WorkflowAggregate) -> str | None:
    """The department owning `aggregate`; None for an aggregate no department owns.

    A department-owned aggregate exposes `department: str`; its commands are then checked
    against the department scopes of application.security (ADR 0016) with no further code.
    """
    department = getattr(aggregate, "department", None)
    return department if isinstance(department, str) else None


class CommandRunner(Generic[A]):
    """Runs commands on aggregates of `kind`; `clock` dates their events (one reading per command)."""

    def __init__(
        self,
        store: EventStore,
        kind: type[A],
        view: Callable[[A], dict[str, Any]],
        clock: Clock = system_clock,
    ) -> None:
        self._store, self._kind, self._view, self._clock = store, kind, view, clock

    def run(
        self,
        ctx: CommandContext,
        command: Command,
        target: UUID | None,
        payload: dict[str, Any],
        decide: Callable[[A | None], A],
    ) -> CommandResult:
        with counted(command) as outcome:
            book, at = book_of(self._store), self._clock()
            read = CommandRead.of(self._store, ctx.caller, ctx.idempotency_key, target, book)
            role = authorize(read.actor, command)
            if target is None:
                refuse_a_version_on_create(ctx)
            request = fingerprint(command, target, payload)
            replay = self._replay(ctx, request, read)
            if replay is not None:
                return outcome.of(replay)
            current = None
            if target is not None:
                current = self.checked(target, read.aggregate(target), ctx.expected_version)
            # The version in force is read once: the metadata and the decision see the same one.
            with book.pinned(read.policy_events()) as policy:
                version = policy["version"]
                if current is not None:
                    role = authorize(read.actor, command, department_of(current))
                new = current is None
                aggregate, metadata = self._decide(
                    ctx, role, at, version, command, partial(decide, current), new=new
                )
                # The idempotency record's event, stamped as the decision's were (`recorded`).
                key, actor_id = ctx.idempotency_key, ctx.actor.actor_id
                record = None if key is None else recorded(
                    actor_id, key, command=command.value, fingerprint=request, aggregate_id=aggregate.id,
                    version=aggregate.version, created=new, metadata=metadata, at=at,
                )  # fmt: skip
            return outcome.of(self._save(ctx, request, aggregate, record, created=target is None))

    def _decide(
        self,
        ctx: CommandContext,
        role: Role,
        at: datetime,
        policy_version: int,
        command: Command,
        decide: Callable[[], A],
        *,
        new: bool,
    ) -> tuple[A, EventMetadata]:
        """The aggregate `decide` returns, recorded as `role`, and the metadata it was recorded with
        (its role the one it was recorded as).

        A new aggregate's department is known only once decided: it is authorized then (ADR 0016),
        and decided again as another of the actor's roles when that one is the role reaching it.
        Raises WrongDepartment when none does.
        """
        metadata = self._metadata(ctx, role, policy_version)
        with recording(metadata, at):
            aggregate = decide()
        if new:
            admitted = authorize(ctx.actor, command, department_of(aggregate))
            if admitted != role:
                metadata = self._metadata(ctx, admitted, policy_version)
                with recording(metadata, at):
                    return decide(), metadata
        return aggregate, metadata

    def _save(
        self,
        ctx: CommandContext,
        request: str,
        aggregate: A,
        record: WorkflowAggregate.Event | None,
        *,
        created: bool,
    ) -> CommandResult:
        try:
            position = self._store.record(aggregate, made=[record] if record is not None else ())
        except ConcurrentModification as conflict:
            # A concurrent attempt with the same key may have won: then its outcome is ours.
            replay = self._replay(ctx, request)
            if replay is not None:
                return replay
            if ctx.expected_version is None:
                raise
            # If-Match's version was current when read, not when saved: the precondition is false
            # (RFC 9110, 13.1.1), as if the other command had come first.
            latest = self._store.event_at(aggregate.id)
            now = 0 if latest is None else latest.originator_version
            raise VersionMismatch(
                f"You sent If-Match version {ctx.expected_version}; another command changed the "
                f"{self._kind.__name__} first: it is at version {now}. Reload it and decide again.",
                current_version=now,
            ) from conflict
        if position is None:  # nothing new to write: the command repeated an observation
            position = self._store.head()
        return CommandResult(aggregate.id, aggregate.version, created, False, position, self._view(aggregate))

    def load(self, aggregate_id: UUID, expected_version: int | None = None, version: int | None = None) -> A:
        try:
            aggregate = self._store.load(aggregate_id, version)
        except NotFound:
            aggregate = None
        return self.checked(aggregate_id, aggregate, expected_version, version)

    def checked(
        self,
        aggregate_id: UUID,
        aggregate: Any,
        expected_version: int | None = None,
        version: int | None = None,
    ) -> A:
        """`aggregate` (None: none has that id; loaded here or elsewhere, e.g. as of a time) as this
        runner's kind, at `version`, at `expected_version`.

        Raises NotFound (no aggregate, or another kind's), NoSuchVersion, VersionMismatch.
        """
        if not isinstance(aggregate, self._kind):  # the same answer for no aggregate and another kind's
            raise NotFound(f"No {self._kind.__name__} with id {aggregate_id}.")
        if version is not None and aggregate.version != version:
            raise NoSuchVersion(
                f"{aggregate_id} has no version {version}; it is at version {aggregate.version}."
            )
        if expected_version is not None and aggregate.version != expected_version:
            raise VersionMismatch(
                f"You sent If-Match version {expected_version}; the {self._kind.__name__} is at "
                f"version {aggregate.version}. Reload it and decide again.",
                current_version=aggregate.version,
            )
        return aggregate

    @staticmethod
    def _metadata(ctx: CommandContext, role: str, policy_version: int) -> EventMetadata:
        causation = ctx.idempotency_key or f"request:{uuid4()}"
        correlation = ctx.correlation_id or causation
        actor = ctx.actor
        return EventMetadata(actor.actor_id, role, actor.department, correlation, causation, policy_version)

    def _replay(
        self, ctx: CommandContext, request: str, read: CommandRead | None = None
    ) -> CommandResult | None:
        """The first outcome of the command's idempotency key; None for a key not seen before.

        From `read` when the command read its record already, else from the store.
        """
        if ctx.idempotency_key is None:
            return None
        if read is None:
            read = CommandRead.of(self._store, ctx.caller, ctx.idempotency_key, None, book_of(self._store))
        record = read.record()
        if record is None:
            return None
        if record.fingerprint != request:
            raise IdempotencyKeyReused(
                f"Idempotency-Key '{ctx.idempotency_key}' was first used with a different request."
            )
        if record.aggregate_id == read.target:
            stored = read.aggregate(record.aggregate_id, record.version)
            aggregate = self.checked(record.aggregate_id, stored, version=record.version)
        else:  # a creating command's: the aggregate it created was not read
            aggregate = self.load(record.aggregate_id, version=record.version)
        view = self._view(aggregate)
        return CommandResult(aggregate.id, record.version, record.created, True, self._store.head(), view)

    def step(
        self,
        ctx: CommandContext,
        command: Command,
        target: UUID,
        request: dict[str, Any],
        method: Callable[..., object],
        **arguments: Any,
    ) -> CommandResult:
        """`run` a command on an existing aggregate: `method(aggregate, **arguments)`.

        `request` is what the caller sent, which identifies the request for its idempotency
        key; `arguments` add what the service decides (who, when), so a retry whose "now"
        has moved on is still the same request.
        """

        def decide(aggregate: A | None) -> A:
            assert aggregate is not None  # `run` loaded it: target is not None
            method(aggregate, **arguments)
            return aggregate

        return self.run(ctx, command, target, request, decide)

    def exists(self, aggregate_id: UUID) -> bool:
        """Whether an aggregate of this runner's kind has that id."""
        try:
            self.load(aggregate_id)
        except NotFound:
            return False
        return True

    def create_all(
        self, ctx: CommandContext, command: Command, decisions: Mapping[UUID, Callable[[], A]]
    ) -> dict[UUID, A | DomainError]:
        """Create several aggregates in one transaction (group commit), each decided on its own.

        A decision the domain refuses is returned as its error and the others are saved;
        ConcurrentModification means none was saved (another writer had one of the ids).
        Idempotency keys do not apply: each aggregate's id must make repeats harmless.
        Each new aggregate's department is authorized as in `run`: WrongDepartment means none
        was saved.
        """
        with counted(command):
            return self._create_all(ctx, command, decisions)

    def _create_all(
        self, ctx: CommandContext, command: Command, decisions: Mapping[UUID, Callable[[], A]]
    ) -> dict[UUID, A | DomainError]:
        role, at = authorize(ctx.actor, command), self._clock()
        made: dict[UUID, A | DomainError] = {}
        with book_of(self._store).pinned() as policy:
            for target, decide in decisions.items():
                try:
                    made[target] = self._decide(ctx, role, at, policy["version"], command, decide, new=True)[
                        0
                    ]
                except DomainError as error:
                    made[target] = error
        created = [a for a in made.values() if not isinstance(a, DomainError)]
        if created:
            self._store.record(*created)
        return made


def refuse_a_version_on_create(ctx: CommandContext) -> None:
    """VersionMismatch (412) when the command's If-Match names a version: what it creates has none."""
    if ctx.expected_version is not None:
        raise VersionMismatch("If-Match names a version, but a new item has none yet.", current_version=0)
