"""Use cases of feedback (Ch. 6.3): submit, triage, record improvements, close; reads."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from nm_workflow.application.clock import Clock, system_clock
from nm_workflow.application.commands import CommandContext, CommandResult, CommandRunner
from nm_workflow.application.reads import AggregateReads
from nm_workflow.application.security import Command
from nm_workflow.application.store import EventStore
from nm_workflow.domain.feedback import Feedback, FeedbackOutcome, FeedbackSubject
from nm_workflow.domain.roles import Role


def feedback_view(feedback: Feedback) -> dict[str, Any]:
    return {
        "id": feedback.id,
        "version": feedback.version,
        "subject": feedback.subject.value,
        "subject_ref": feedback.subject_ref,
        "text": feedback.text,
        "source": feedback.source,
        "submitted_by": feedback.submitted_by,
        "department": feedback.department,
        "owner_id": feedback.owner_id,
        "state": feedback.state.value,
        "improvements": [dict(i) for i in feedback.improvements],
        "outcome": feedback.outcome,
        "reason": feedback.reason,
        "created_at": feedback.created_on,
        "modified_at": feedback.modified_on,
    }


class FeedbackService(AggregateReads[Feedback]):
    def __init__(self, store: EventStore, *, event_clock: Clock = system_clock) -> None:
        """`event_clock` dates the events (see ContentItems)."""
        self._store = store
        self._runner = CommandRunner(store, Feedback, feedback_view, event_clock)

    def submit(
        self, ctx: CommandContext, subject: FeedbackSubject, subject_ref: str | None, text: str
    ) -> CommandResult:
        """Staff submit under their name; a service key relays users' (source 'user via <service>')."""
        actor = ctx.actor
        relayed = actor.roles == {Role.SERVICE}
        facts: dict[str, Any] = {
            "subject": FeedbackSubject(subject), "subject_ref": subject_ref, "text": text,
            "source": f"user via {actor.actor_id}" if relayed else "staff", "submitted_by": actor.actor_id,
            "department": actor.department,
        }  # fmt: skip
        request = {"subject": subject, "subject_ref": subject_ref, "text": text}
        return self._runner.run(
            ctx, Command.SUBMIT_FEEDBACK, None, request, lambda _: Feedback.submit(**facts)
        )

    def triage(self, ctx: CommandContext, target: UUID, department: str, owner_id: str) -> CommandResult:
        request = {"department": department, "owner_id": owner_id}
        return self._runner.step(ctx, Command.TRIAGE_FEEDBACK, target, request, Feedback.triage, **request)

    def record_improvement(
        self,
        ctx: CommandContext,
        target: UUID,
        description: str,
        item_id: UUID | None,
        policy_ref: str | None,
    ) -> CommandResult:
        request = {"description": description, "item_id": item_id, "policy_ref": policy_ref}
        method = Feedback.record_improvement
        return self._runner.step(ctx, Command.RECORD_IMPROVEMENT, target, request, method, **request)

    def close(
        self, ctx: CommandContext, target: UUID, outcome: FeedbackOutcome, reason: str | None
    ) -> CommandResult:
        request = {"outcome": outcome, "reason": reason}
        return self._runner.step(ctx, Command.CLOSE_FEEDBACK, target, request, Feedback.close, **request)

    def _view(self, aggregate: Feedback) -> dict[str, Any]:
        return feedback_view(aggregate)
