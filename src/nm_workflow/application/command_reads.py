"""What a command reads before it decides, in one round trip (ADR 0027).

The caller's key (its revocation, when the key is a `KeyClaim` still to be
checked), the idempotency record of (actor, Idempotency-Key), the target
aggregate and the policy's events after the version this process holds: one
`EventStore.events_of` call. Only a replay of a creating command reads again
(the created aggregate), and a replay reads the log head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from nm_workflow.application.idempotency import IdempotencyRecord
from nm_workflow.application.keys import KeyClaim
from nm_workflow.application.policy_book import PolicyBook
from nm_workflow.application.security import Actor
from nm_workflow.application.store import EventStore
from nm_workflow.domain.metadata import WorkflowAggregate
from nm_workflow.domain.workflow_policy import POLICY_ID

Events = Sequence[WorkflowAggregate.Event]


@dataclass(frozen=True)
class CommandRead:
    """The events one command read; `actor` is the caller, its key checked."""

    actor: Actor
    record_id: UUID | None
    target: UUID | None
    events: dict[UUID, list[WorkflowAggregate.Event]]
    store: EventStore
    after: dict[UUID, int]
    """The version each aggregate's events were read after (a snapshot's, for a long target)."""

    @classmethod
    def of(
        cls,
        store: EventStore,
        caller: Actor | KeyClaim,
        idempotency_key: str | None,
        target: UUID | None,
        book: PolicyBook,
    ) -> CommandRead:
        """Read, then check the caller's key: AuthenticationFailed if it was revoked."""
        claimed = caller.actor if isinstance(caller, KeyClaim) else caller
        wanted: dict[UUID, int] = {}

        def want(aggregate_id: UUID, after: int) -> None:
            # One id may be wanted twice (a policy command's target is the policy): the lower wins.
            wanted[aggregate_id] = min(after, wanted.get(aggregate_id, after))

        record_id = None
        if idempotency_key is not None:
            record_id = IdempotencyRecord.create_id(claimed.actor_id, idempotency_key)
            want(record_id, 0)
        if target is not None:
            want(target, store.snapshot_hints.get(target))  # a long history: the snapshot's rest
        want(POLICY_ID, book.known_version())
        if isinstance(caller, KeyClaim) and not caller.confirmed:
            want(caller.key_id, caller.version)
        events = store.events_of(wanted)
        actor = caller.confirm(events.get(caller.key_id)) if isinstance(caller, KeyClaim) else caller
        return cls(actor, record_id, target, events, store, wanted)

    def policy_events(self) -> Events:
        return self.events[POLICY_ID]

    def record(self) -> IdempotencyRecord | None:
        """The idempotency record of the command's key, if one was stored."""
        return None if self.record_id is None else self.aggregate(self.record_id)

    def aggregate(self, aggregate_id: UUID, version: int | None = None) -> Any:
        """The aggregate read (at `version` if given), or None if it has no events (up to it)."""
        events, start = self.events.get(aggregate_id, []), None
        if self.after.get(aggregate_id, 0) > 0:  # read after a snapshot: start from it
            start = self.store.latest_snapshot(aggregate_id)
            if (
                start is None
                or start.version < self.after[aggregate_id]  # the hint outran the snapshots: one failed
                or (version is not None and version < start.version)
            ):
                return self.store.load(aggregate_id, version)
            events = [e for e in events if e.originator_version > start.version]
        elif aggregate_id == self.target:
            # A long history read whole: another process took its snapshots; use them next time.
            interval = self.store.settings.snapshot_interval
            if interval and len(events) >= 2 * interval:
                self.store.snapshot_hints.note(aggregate_id, len(events) // interval * interval)
        if version is not None:
            events = [e for e in events if e.originator_version <= version]
        # The library's project_aggregate asserts each event is an instance of a runtime-checkable
        # Protocol, a structural check costing more than the mutation itself
        # (docs/performance-history.md, "Second pass").
        aggregate = start
        for stored in events:
            aggregate = stored.mutate(aggregate)
        return aggregate
