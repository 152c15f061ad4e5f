"""The Feedback aggregate (Ch. 6.3): every transition and every refusal."""

from __future__ import annotations

from uuid import uuid4

import pytest

from nm_workflow.domain.errors import RuleViolation
from nm_workflow.domain.feedback import Feedback, FeedbackOutcome, FeedbackState, FeedbackSubject
from nm_workflow.domain.interaction_errors import FeedbackClosed, FeedbackNotTriaged, NoImprovementRecorded


def submitted() -> Feedback:
    return Feedback.submit(
        subject=FeedbackSubject.POLICY, subject_ref=None, text="Too many steps", source="staff",
        submitted_by="mia", department="marketing",
    )  # fmt: skip


def triaged() -> Feedback:
    feedback = submitted()
    feedback.triage(department="legal", owner_id="lee")
    return feedback


def test_triage_assigns_the_department_and_may_be_repeated_while_open() -> None:
    feedback = triaged()
    assert (feedback.state, feedback.department, feedback.owner_id) == (FeedbackState.TRIAGED, "legal", "lee")
    feedback.triage(department="management", owner_id="max")
    assert feedback.department == "management"


def test_improvements_come_after_triage() -> None:
    with pytest.raises(FeedbackNotTriaged):
        submitted().record_improvement(description="x", item_id=None, policy_ref=None)
    feedback = triaged()
    item = uuid4()
    feedback.record_improvement(description="Checklist", item_id=item, policy_ref="p-1")
    assert feedback.state is FeedbackState.IMPROVING
    assert feedback.improvements == [{"description": "Checklist", "item_id": str(item), "policy_ref": "p-1"}]


def test_adopted_needs_an_improvement_and_declined_a_reason() -> None:
    feedback = triaged()
    with pytest.raises(NoImprovementRecorded):
        feedback.close(outcome=FeedbackOutcome.ADOPTED, reason=None)
    with pytest.raises(RuleViolation):
        feedback.close(outcome=FeedbackOutcome.DECLINED, reason=None)
    feedback.close(outcome=FeedbackOutcome.DECLINED, reason="Required by law")
    assert (feedback.state, feedback.outcome, feedback.reason) == (
        FeedbackState.CLOSED,
        "declined",
        "Required by law",
    )
    with pytest.raises(FeedbackClosed):
        feedback.triage(department="sales", owner_id="x")
    with pytest.raises(FeedbackClosed):
        feedback.record_improvement(description="x", item_id=None, policy_ref=None)
