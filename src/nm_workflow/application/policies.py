"""Use cases of the workflow policy (Ch. 8) and the compliance pre-check (Ch. 4.1, 4.2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from nm_workflow.application.as_of import load_as_of
from nm_workflow.application.clock import Clock, system_clock
from nm_workflow.application.commands import CommandContext, CommandResult, CommandRunner
from nm_workflow.application.errors import NotFound
from nm_workflow.application.policy_book import book_of
from nm_workflow.application.policy_views import version_view
from nm_workflow.application.reads import AggregateReads, HistoryPage
from nm_workflow.application.security import Actor, Command, authorize
from nm_workflow.application.store import EventStore
from nm_workflow.domain.compliance import CHECKED_FIELDS
from nm_workflow.domain.workflow_policy import POLICY_ID, WorkflowPolicy


class _PolicyEvents(AggregateReads[WorkflowPolicy]):
    """The policy aggregate's history, read as every aggregate's is (application/reads.py)."""

    def __init__(self, store: EventStore, runner: CommandRunner[WorkflowPolicy]) -> None:
        self._store, self._runner = store, runner


class Policies:
    def __init__(self, store: EventStore, clock: Clock = system_clock) -> None:
        self._book, self._clock, self._store = book_of(store), clock, store
        self._runner = CommandRunner(store, WorkflowPolicy, self._last_version)
        self._events = _PolicyEvents(store, self._runner)

    # --- commands ---------------------------------------------------------------

    def propose(self, ctx: CommandContext, rules: dict[str, Any], reason: str) -> CommandResult:
        """A complete new version of the rules, with the reason for it."""
        payload = {"rules": rules, "reason": reason}
        return self._change(ctx, Command.PROPOSE_POLICY, payload, "propose", proposer_id=ctx.actor.actor_id)

    def review(self, ctx: CommandContext, version: int, approve: bool, reasons: list[str]) -> CommandResult:
        """A required department's head approves the open revision, or objects with reasons."""
        payload = {"version": version, "approve": approve, "reasons": reasons}
        facts = {"reviewer_id": ctx.actor.actor_id, "department": ctx.actor.department}
        return self._change(ctx, Command.REVIEW_POLICY, payload, "review", **facts)

    def approve(self, ctx: CommandContext, version: int, effective_from: datetime | None) -> CommandResult:
        """Management's approval; the version is in force from `effective_from` (default: now)."""
        payload = {"version": version, "effective_from": effective_from}
        return self._change(ctx, Command.APPROVE_POLICY, payload, "approve", approver_id=ctx.actor.actor_id)

    def withdraw(self, ctx: CommandContext, version: int, reason: str) -> CommandResult:
        payload = {"version": version, "reason": reason}
        return self._change(ctx, Command.WITHDRAW_POLICY, payload, "withdraw", actor_id=ctx.actor.actor_id)

    def _change(
        self, ctx: CommandContext, command: Command, payload: dict[str, Any], method: str, **facts: Any
    ) -> CommandResult:
        self._book.policy()  # seeds version 1 in an empty store

        def decide(policy: WorkflowPolicy | None) -> WorkflowPolicy:
            assert policy is not None
            action: Callable[..., None] = getattr(policy, method)
            timed = {} if method == "withdraw" else {"now": self._clock()}
            action(**payload, **facts, **timed)
            return policy

        return self._runner.run(ctx, command, POLICY_ID, payload, decide)

    def _last_version(self, policy: WorkflowPolicy) -> dict[str, Any]:
        return version_view(policy, policy.versions[-1], self._clock())

    # --- reads --------------------------------------------------------------------

    def current_version(self) -> int:
        """The version in force now (recording the seed policy in an empty store)."""
        return self._book.in_force()["version"]

    def current(self, actor: Actor, as_of: datetime | None = None) -> dict[str, Any]:
        """The version in force now, or the one in force at `as_of` as the policy stood then.

        Raises NoSuchVersion for a time before the seed policy was recorded.
        """
        authorize(actor, Command.READ)
        if as_of is None:
            policy, at = self._book.policy(), self._clock()
        else:
            policy, at = self._runner.checked(POLICY_ID, load_as_of(self._store, POLICY_ID, as_of)), as_of
        return version_view(policy, policy.in_force(at), at)

    def events(self, actor: Actor, after: int = 0, limit: int = 100) -> HistoryPage:
        """A page of the policy aggregate's events (proposals, reviews, approvals), with metadata."""
        return self._events.history(actor, POLICY_ID, after, limit)

    def get(self, actor: Actor, version: int) -> dict[str, Any]:
        authorize(actor, Command.READ)
        policy = self._book.policy()
        found = policy.numbered(version)
        if found is None:
            raise NotFound(f"The policy has no version {version}; it has {len(policy.versions)}.")
        return version_view(policy, found, self._clock())

    def history(self, actor: Actor) -> list[dict[str, Any]]:
        authorize(actor, Command.READ)
        policy = self._book.policy()
        return [version_view(policy, v, self._clock()) for v in policy.versions]

    def check(self, actor: Actor, draft: dict[str, Any]) -> dict[str, Any]:
        """The findings a draft would get under the policy in force; nothing is stored."""
        authorize(actor, Command.CHECK_COMPLIANCE)
        lexicon = self._book.lexicon()
        findings = lexicon.check({name: draft[name] for name in CHECKED_FIELDS})
        return {"policy_version": lexicon.version, "findings": findings}
