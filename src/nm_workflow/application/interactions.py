"""Use cases of customer interactions (Ch. 4.3): receipt one by one or in batches, the
steps that follow, erasure of personal data, and reads.

Deadlines come from one `DeadlineSource`: by default the workflow policy's
version in force (its `interaction_deadlines`). Times a caller reports
(received at, replied at, ...) may not lie in the future beyond the
configured clock skew.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal
from uuid import UUID

from nm_workflow.application.clock import Clock, system_clock
from nm_workflow.application.commands import (
    CommandContext,
    CommandResult,
    CommandRunner,
    refuse_a_version_on_create,
)
from nm_workflow.application.errors import ConcurrentModification, NotFound
from nm_workflow.application.interaction_views import (
    interaction_event_view,
    interaction_view,
    sealing_context,
)
from nm_workflow.application.personal_data import KeyVault, keyed_digest, seal
from nm_workflow.application.policy_book import book_of
from nm_workflow.application.reads import AggregateReads
from nm_workflow.application.reported_time import reported
from nm_workflow.application.security import Command, authorize
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.errors import DomainError
from nm_workflow.domain.interaction import Interaction
from nm_workflow.domain.interaction_values import (
    InteractionDeadlines,
    InteractionKind,
    Sentiment,
    interaction_id,
)
from nm_workflow.domain.metadata import WorkflowAggregate
from nm_workflow.domain.sentiment import CLASSIFIER_VERSION, classify

DeadlineSource = Callable[[], InteractionDeadlines]
"""Where the deadlines in force come from; called once per command that fixes one."""


def deadlines_in_force(store: EventStore) -> DeadlineSource:
    """The `interaction_deadlines` of the policy version in force (the one pinned for a command)."""
    book = book_of(store)

    def deadlines() -> InteractionDeadlines:
        rules = book.in_force()["rules"]["interaction_deadlines"]
        return InteractionDeadlines(
            first_response=timedelta(hours=rules["first_response_hours"]),
            negative_handling=timedelta(hours=rules["negative_handling_hours"]),
        )

    return deadlines


@dataclass(frozen=True)
class Unreadable:
    """An item of a batch that the interface could not turn into an interaction."""

    problem: str
    """The problem type's slug, e.g. 'validation-error'."""
    detail: str


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one item of a batch."""

    index: int
    status: Literal["created", "already_known", "refused"]
    interaction_id: UUID | None = None
    problem: str | None = None
    """The problem type's slug when refused."""
    detail: str | None = None


class Interactions(AggregateReads[Interaction]):
    def __init__(
        self,
        store: EventStore,
        settings: Settings,
        deadlines: DeadlineSource | None = None,
        clock: Clock = system_clock,
        *,
        event_clock: Clock = system_clock,
    ) -> None:
        """`event_clock` dates the events (see ContentItems)."""
        self._store, self._clock, self._vault = store, clock, KeyVault(store)
        self._deadlines = deadlines or deadlines_in_force(store)
        self._department = settings.interaction_department
        self._skew = timedelta(seconds=settings.clock_skew_seconds)
        self._runner = CommandRunner(
            store, Interaction, lambda i: interaction_view(i, self._vault), event_clock
        )

    # --- receipt --------------------------------------------------------------------

    def receive(self, ctx: CommandContext, received: dict[str, Any]) -> CommandResult:
        """Record an interaction; one already known (same platform and platform_id) is returned as is."""
        authorize(ctx.actor, Command.RECEIVE_INTERACTION)
        target = interaction_id(received["platform"], received["platform_id"])
        known = self._known(target)
        if known is not None:
            return known
        key = self._vault.key_for(target)
        try:
            return self._runner.run(
                ctx, Command.RECEIVE_INTERACTION, None, self._request(received, key),
                lambda _: self._arrival(target, received, key),
            )  # fmt: skip
        except ConcurrentModification:
            known = self._known(target)  # another process received the same comment just now
            if known is None:
                raise
            return known

    def receive_batch(
        self, ctx: CommandContext, batch: list[dict[str, Any] | Unreadable]
    ) -> list[BatchOutcome]:
        """Each item on its own: one refused item never loses the others.

        New comments are saved together in one transaction; if another process saved one of
        them meanwhile, each is received on its own instead. Items the caller could not parse
        arrive as the error to report. Errors of the store itself (unreachable, busy) end the
        batch: every item is safe to send again.
        """
        authorize(ctx.actor, Command.RECEIVE_INTERACTION)
        refuse_a_version_on_create(ctx)  # before any key is stored: a refused batch writes nothing
        single = CommandContext(ctx.actor, correlation_id=ctx.correlation_id)
        outcomes: dict[int, BatchOutcome] = {}
        fresh: dict[UUID, tuple[int, dict[str, Any]]] = {}
        for index, item in enumerate(batch):
            if isinstance(item, Unreadable):
                outcomes[index] = BatchOutcome(index, "refused", None, item.problem, item.detail)
                continue
            target = interaction_id(item["platform"], item["platform_id"])
            if target in fresh or self._runner.exists(target):
                continue  # a repeat: answered below, once the first one is settled
            fresh[target] = (index, item)
        outcomes |= self._receive_together(single, fresh)
        for index, item in enumerate(batch):
            if index not in outcomes:
                outcomes[index] = self._receive_one(single, index, item)
        return [outcomes[index] for index in range(len(batch))]

    def _receive_together(
        self, ctx: CommandContext, fresh: dict[UUID, tuple[int, dict[str, Any]]]
    ) -> dict[int, BatchOutcome]:
        keys = self._vault.keys_for(list(fresh))
        decisions = {
            target: partial(self._arrival, target, item, keys[target]) for target, (_, item) in fresh.items()
        }
        try:
            made = self._runner.create_all(ctx, Command.RECEIVE_INTERACTION, decisions)
        except ConcurrentModification:
            return {}  # another process saved one of them: every item is received on its own
        outcomes = {}
        for target, outcome in made.items():
            index = fresh[target][0]
            if isinstance(outcome, DomainError):
                outcomes[index] = BatchOutcome(index, "refused", None, outcome.slug, outcome.detail)
            else:
                outcomes[index] = BatchOutcome(index, "created", target)
        return outcomes

    def _receive_one(
        self, ctx: CommandContext, index: int, item: dict[str, Any] | Unreadable
    ) -> BatchOutcome:
        assert not isinstance(item, Unreadable)
        try:
            result = self.receive(ctx, item)
        except DomainError as error:
            return BatchOutcome(index, "refused", None, error.slug, error.detail)
        return BatchOutcome(index, "created" if result.created else "already_known", result.aggregate_id)

    def _arrival(self, target: UUID, received: dict[str, Any], key: bytes) -> Interaction:
        """The new interaction: its time checked, its sentiment decided, its personal fields sealed."""
        sentiment, source = self._sentiment(received)
        sealed = {
            f"{f}_sealed": seal(key, received[f], sealing_context(target, f))
            for f in ("text", "author_handle")
        }
        return Interaction.receive(
            platform=received["platform"], platform_id=received["platform_id"],
            kind=InteractionKind(received["kind"]),
            received_at=self._reported(received["received_at"], "time received"),
            item_id=received.get("item_id"), sentiment=sentiment, sentiment_source=source,
            department=self._department, deadlines=self._deadlines(), **sealed,
        )  # fmt: skip

    @staticmethod
    def _request(received: dict[str, Any], key: bytes) -> dict[str, Any]:
        """The request as its Idempotency-Key fingerprint sees it: no personal text in readable form."""
        personal = ("text", "author_handle")
        return {k: keyed_digest(key, v) if k in personal else v for k, v in received.items()}

    # --- what follows -----------------------------------------------------------------

    def respond(
        self, ctx: CommandContext, target: UUID, reply_text: str, replied_at: datetime | None
    ) -> CommandResult:
        request = {"reply_text": reply_text, "replied_at": replied_at}
        return self._runner.step(
            ctx, Command.RESPOND_TO_INTERACTION, target, request, Interaction.respond,
            reply_text=reply_text, replied_at=self._reported(replied_at, "reply time"),
            responder_id=ctx.actor.actor_id,
        )  # fmt: skip

    def escalate(self, ctx: CommandContext, target: UUID, department: str, reason: str) -> CommandResult:
        request = {"department": department, "reason": reason}
        return self._runner.step(
            ctx, Command.ESCALATE_INTERACTION, target, request, Interaction.escalate,
            **request, escalated_at=self._clock(),
        )  # fmt: skip

    def handle(self, ctx: CommandContext, target: UUID, note: str) -> CommandResult:
        return self._runner.step(
            ctx, Command.HANDLE_INTERACTION, target, {"note": note}, Interaction.handle,
            note=note, handled_at=self._clock(), handler_id=ctx.actor.actor_id,
        )  # fmt: skip

    def resolve(self, ctx: CommandContext, target: UUID, outcome: str) -> CommandResult:
        return self._runner.step(
            ctx, Command.RESOLVE_INTERACTION, target, {"outcome": outcome}, Interaction.resolve,
            outcome=outcome, resolved_at=self._clock(),
        )  # fmt: skip

    def reopen(self, ctx: CommandContext, target: UUID, reason: str) -> CommandResult:
        return self._runner.step(
            ctx, Command.REOPEN_INTERACTION, target, {"reason": reason}, Interaction.reopen,
            reason=reason, reopened_at=self._clock(), deadlines=self._deadlines(),
        )  # fmt: skip

    def erase(self, ctx: CommandContext, target: UUID, reason: str) -> CommandResult:
        """Record the erasure, then destroy the key; repeating it finishes an interrupted erasure."""
        result = self._runner.step(
            ctx, Command.ERASE_INTERACTION, target, {"reason": reason}, Interaction.erase_personal_data,
            reason=reason,
        )  # fmt: skip
        self._vault.destroy(target)
        return result

    # --- reads ----------------------------------------------------------------------

    def _view(self, aggregate: Interaction) -> dict[str, Any]:
        return interaction_view(aggregate, self._vault)

    def _event_view(self, event: WorkflowAggregate.Event) -> dict[str, Any]:
        return interaction_event_view(event, self._vault)

    # --- helpers --------------------------------------------------------------------

    def _known(self, target: UUID) -> CommandResult | None:
        try:
            interaction = self._runner.load(target)
        except NotFound:
            return None
        view = interaction_view(interaction, self._vault)
        return CommandResult(interaction.id, interaction.version, False, True, self._store.head(), view)

    def _reported(self, moment: datetime | None, what: str) -> datetime:
        return reported(moment, self._clock, self._skew, what)

    @staticmethod
    def _sentiment(received: dict[str, Any]) -> tuple[Sentiment, str]:
        if received.get("sentiment") is not None:
            return Sentiment(received["sentiment"]), "caller"
        return classify(received["text"]), f"classifier:{CLASSIFIER_VERSION}"
