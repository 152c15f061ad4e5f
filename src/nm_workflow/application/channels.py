"""Use cases of official channel accounts and their followers (Ch. 4.4): commands and reads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from nm_workflow.application.clock import Clock, system_clock
from nm_workflow.application.commands import CommandContext, CommandResult, CommandRunner
from nm_workflow.application.errors import ConcurrentModification, NotFound
from nm_workflow.application.reads import AggregateReads
from nm_workflow.application.reported_time import reported
from nm_workflow.application.security import Command
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.channel_account import ChannelAccount, channel_account_id
from nm_workflow.domain.interaction_errors import ChannelAccountExists


def channel_view(account: ChannelAccount) -> dict[str, Any]:
    latest = max(account.followers) if account.followers else None
    return {
        "id": account.id,
        "version": account.version,
        "platform": account.platform,
        "account_id": account.account_id,
        "account_name": account.account_name,
        "department": account.department,
        "latest_followers": None if latest is None else account.followers[latest],
        "latest_observed_at": None if latest is None else datetime.fromisoformat(latest),
        "observations": len(account.followers),
        "retired_at": account.retired_at,
        "retirement_reason": account.retirement_reason,
        "created_at": account.created_on,
        "modified_at": account.modified_on,
    }


class ChannelAccounts(AggregateReads[ChannelAccount]):
    def __init__(
        self, store: EventStore, settings: Settings, clock: Clock = system_clock, *,
        event_clock: Clock = system_clock,
    ) -> None:  # fmt: skip
        """`event_clock` dates the events (see ContentItems)."""
        self._store, self._clock = store, clock
        self._skew = timedelta(seconds=settings.clock_skew_seconds)
        self._runner = CommandRunner(store, ChannelAccount, channel_view, event_clock)

    def register(self, ctx: CommandContext, account: dict[str, Any]) -> CommandResult:
        """Register an official account; its department defaults to the caller's.

        A retry with the Idempotency-Key of the registration replays it; any other registration
        of the same platform account is refused (ChannelAccountExists).
        """
        facts = {**account, "department": account.get("department") or ctx.claimed.department}
        target = channel_account_id(facts["platform"], facts["account_id"])

        def register(_: ChannelAccount | None) -> ChannelAccount:
            self._refuse_known(target, facts)  # after the write path looked for a replay
            return ChannelAccount.register(**facts)

        try:
            return self._runner.run(ctx, Command.REGISTER_CHANNEL_ACCOUNT, None, facts, register)
        except ConcurrentModification:
            self._refuse_known(target, facts)  # registered by another process just now
            raise

    def record_followers(
        self, ctx: CommandContext, target: UUID, observed_at: datetime, followers: int, correction: bool
    ) -> CommandResult:
        request = {"observed_at": observed_at, "followers": followers, "correction": correction}
        return self._runner.step(
            ctx, Command.RECORD_FOLLOWERS, target, request, ChannelAccount.record_followers,
            **request | {"observed_at": reported(observed_at, self._clock, self._skew, "observation time")},
        )  # fmt: skip

    def retire(self, ctx: CommandContext, target: UUID, reason: str) -> CommandResult:
        return self._runner.step(
            ctx, Command.RETIRE_CHANNEL_ACCOUNT, target, {"reason": reason}, ChannelAccount.retire,
            reason=reason, retired_at=self._clock(),
        )  # fmt: skip

    def _view(self, aggregate: ChannelAccount) -> dict[str, Any]:
        return channel_view(aggregate)

    def _refuse_known(self, target: UUID, facts: dict[str, Any]) -> None:
        try:
            self._runner.load(target)
        except NotFound:
            return
        raise ChannelAccountExists(
            f"{facts['platform']} account {facts['account_id']} is already registered as {target}."
        )
