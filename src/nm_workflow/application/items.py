"""Use cases of content items (Ch. 4-5): commands and reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from nm_workflow.application.clock import Clock, system_clock
from nm_workflow.application.commands import CommandContext, CommandResult, CommandRunner
from nm_workflow.application.policy_book import book_of
from nm_workflow.application.reads import AggregateReads
from nm_workflow.application.security import Command
from nm_workflow.application.store import EventStore
from nm_workflow.application.views import item_view
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.roles import Stage
from nm_workflow.domain.timing import DEFAULT_CLOCK_SKEW, DEFAULT_PLANNING_HORIZON, Now


class ContentItems(AggregateReads[ContentItem]):
    """Commands and reads of content items.

    `clock` is the present the time checks use (publication and observation not in
    the future beyond `clock_skew`; schedules and planned dates within
    `planning_horizon`); see domain/timing.py. `event_clock` dates the events: the system
    clock, except where a whole run is replayed at other times (the demo quarter passes the
    same clock as `clock`, so that events and the times commands carry agree).
    """

    def __init__(
        self,
        store: EventStore,
        clock: Clock = system_clock,
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
        planning_horizon: timedelta = DEFAULT_PLANNING_HORIZON,
        *,
        event_clock: Clock = system_clock,
    ) -> None:
        self._store = store
        self._runner = CommandRunner(store, ContentItem, item_view, event_clock)
        self._policy = book_of(store)
        self._clock, self._clock_skew, self._planning_horizon = clock, clock_skew, planning_horizon

    def now(self) -> Now:
        """The present of one command, read once from the clock."""
        return Now(self._clock(), self._clock_skew, self._planning_horizon)

    # --- commands ---------------------------------------------------------------

    def plan(self, ctx: CommandContext, plan: dict[str, Any]) -> CommandResult:
        plan = {**plan, "department": plan.get("department") or ctx.claimed.department}
        return self._runner.run(
            ctx,
            Command.PLAN,
            None,
            plan,
            lambda _: ContentItem.plan(**plan, planner_id=ctx.actor.actor_id, now=self.now()),
        )

    def draft(self, ctx: CommandContext, item_id: UUID, draft: dict[str, Any]) -> CommandResult:
        """A new revision, checked against the lexicon of the policy in force."""
        return self._change_in_force(
            ctx, Command.DRAFT, item_id, draft, "draft",
            lambda: {"author_id": ctx.actor.actor_id, "lexicon": self._policy.lexicon()},
        )  # fmt: skip

    def request_review(
        self,
        ctx: CommandContext,
        item_id: UUID,
        revision: int | None,
        justifications: dict[str, str] | None = None,
    ) -> CommandResult:
        """Send to review under the chain and deadlines of the policy in force; justify blocking findings."""
        payload = {"revision": revision, "justifications": justifications or {}}
        return self._change_in_force(
            ctx, Command.REQUEST_REVIEW, item_id, payload, "request_review",
            lambda: {"terms": self._policy.review_terms()},
        )  # fmt: skip

    def approve(
        self, ctx: CommandContext, item_id: UUID, stage: Stage, decision: dict[str, Any]
    ) -> CommandResult:
        payload = {"stage": stage, **decision}
        return self._change_in_force(
            ctx, Command.approve(stage), item_id, payload, "approve", lambda: self._reviewer(ctx)
        )

    def request_changes(
        self, ctx: CommandContext, item_id: UUID, stage: Stage, request: dict[str, Any]
    ) -> CommandResult:
        payload = {"stage": stage, **request}
        command = Command.request_changes(stage)
        return self._change_in_force(
            ctx, command, item_id, payload, "request_changes", lambda: self._reviewer(ctx)
        )

    def schedule(self, ctx: CommandContext, item_id: UUID, platform: str, at: datetime) -> CommandResult:
        payload = {"platform": platform, "at": at}
        return self._change(ctx, Command.SCHEDULE, item_id, payload, "schedule_publication", now=self.now())

    def publish(self, ctx: CommandContext, item_id: UUID, publication: dict[str, Any]) -> CommandResult:
        return self._change(ctx, Command.PUBLISH, item_id, publication, "publish", now=self.now())

    def record_metrics(
        self, ctx: CommandContext, item_id: UUID, observation: dict[str, Any]
    ) -> CommandResult:
        return self._change(
            ctx, Command.RECORD_METRICS, item_id, observation, "record_metrics", now=self.now()
        )

    def withdraw(self, ctx: CommandContext, item_id: UUID, reason: str) -> CommandResult:
        return self._change(ctx, Command.WITHDRAW, item_id, {"reason": reason}, "withdraw")

    def cancel(self, ctx: CommandContext, item_id: UUID, reason: str) -> CommandResult:
        return self._change(ctx, Command.CANCEL, item_id, {"reason": reason}, "cancel")

    def _change(
        self,
        ctx: CommandContext,
        command: Command,
        item_id: UUID,
        payload: dict[str, Any],
        method: str,
        **facts: Any,
    ) -> CommandResult:
        return self._change_in_force(ctx, command, item_id, payload, method, lambda: facts)

    def _change_in_force(
        self, ctx: CommandContext, command: Command, item_id: UUID, payload: dict[str, Any], method: str,
        facts: Callable[[], dict[str, Any]],
    ) -> CommandResult:  # fmt: skip
        # `facts` are read inside the command, under the policy version its events are stamped with,
        # and after its read checked the caller's key (so `ctx.actor` costs no read of its own).
        def decide(item: ContentItem | None) -> ContentItem:
            assert item is not None
            getattr(item, method)(**payload, **facts())
            return item

        return self._runner.run(ctx, command, item_id, payload, decide)

    @staticmethod
    def _reviewer(ctx: CommandContext) -> dict[str, str]:
        return {"reviewer_id": ctx.actor.actor_id}

    # --- reads --------------------------------------------------------------------

    def _view(self, aggregate: ContentItem) -> dict[str, Any]:
        return item_view(aggregate)
