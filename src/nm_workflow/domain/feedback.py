"""The Feedback aggregate (Ch. 6.3 "建立反馈渠道,鼓励员工和用户...提出意见和建议").

submitted -> triaged (owning department and person) -> improvement recorded
(any number) -> closed (adopted, or declined with a reason). Staff submit
under their own name; users' feedback arrives through a service, whose name
is recorded as the source.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from nm_workflow.domain.errors import RuleViolation
from nm_workflow.domain.interaction_errors import FeedbackClosed, FeedbackNotTriaged, NoImprovementRecorded
from nm_workflow.domain.metadata import WorkflowAggregate


class FeedbackSubject(StrEnum):
    ITEM = "item"
    CAMPAIGN = "campaign"
    CHANNEL = "channel"
    PROCESS = "process"
    POLICY = "policy"


class FeedbackState(StrEnum):
    SUBMITTED = "submitted"
    TRIAGED = "triaged"
    IMPROVING = "improving"
    CLOSED = "closed"


class FeedbackOutcome(StrEnum):
    ADOPTED = "adopted"
    DECLINED = "declined"


class Feedback(WorkflowAggregate):
    @event("Submitted")
    def __init__(
        self,
        *,
        subject: FeedbackSubject,
        subject_ref: str | None,
        text: str,
        source: str,
        submitted_by: str,
        department: str,
    ) -> None:
        self.subject, self.subject_ref, self.text = FeedbackSubject(subject), subject_ref, text
        self.source, self.submitted_by, self.department = source, submitted_by, department
        self.state = FeedbackState.SUBMITTED
        self.owner_id: str | None = None
        self.improvements: list[dict[str, str | None]] = []
        self.outcome: str | None = None
        self.reason: str | None = None

    @classmethod
    def submit(
        cls, *, subject: FeedbackSubject, subject_ref: str | None, text: str, source: str, submitted_by: str,
        department: str,
    ) -> Feedback:  # fmt: skip
        """`source`: 'staff', or 'user via <service>' for users' feedback relayed by a service."""
        return cls(subject=FeedbackSubject(subject), subject_ref=subject_ref, text=text, source=source,
                   submitted_by=submitted_by, department=department)  # fmt: skip

    def triage(self, *, department: str, owner_id: str) -> None:
        self._require_open()
        self._triaged(department=department, owner_id=owner_id)

    def record_improvement(self, *, description: str, item_id: UUID | None, policy_ref: str | None) -> None:
        self._require_triaged()
        self._improvement_recorded(description=description, item_id=item_id, policy_ref=policy_ref)

    def close(self, *, outcome: FeedbackOutcome, reason: str | None) -> None:
        self._require_triaged()
        outcome = FeedbackOutcome(outcome)
        if outcome is FeedbackOutcome.ADOPTED and not self.improvements:
            raise NoImprovementRecorded("Record what changed before closing the feedback as adopted.")
        if outcome is FeedbackOutcome.DECLINED and not reason:
            raise RuleViolation("Declining feedback needs a reason the submitter can read.")
        self._closed(outcome=outcome, reason=reason)

    # State and outcome are kept as plain strings so that a snapshot round-trips through JSON.
    @property
    def state(self) -> FeedbackState:
        return FeedbackState(self._state)

    @state.setter
    def state(self, value: FeedbackState) -> None:
        self._state = value.value

    def _require_open(self) -> None:
        if self.state is FeedbackState.CLOSED:
            raise FeedbackClosed(f"The feedback was closed as {self.outcome}.")

    def _require_triaged(self) -> None:
        # Only the owning department gets here: the write path checks the caller's department
        # against `department` (ADR 0016).
        self._require_open()
        if self.state is FeedbackState.SUBMITTED:
            raise FeedbackNotTriaged("Triage the feedback to a department first.")

    @event("Triaged")
    def _triaged(self, department: str, owner_id: str) -> None:
        self.department, self.owner_id = department, owner_id
        if self.state is FeedbackState.SUBMITTED:
            self.state = FeedbackState.TRIAGED

    @event("ImprovementRecorded")
    def _improvement_recorded(self, description: str, item_id: UUID | None, policy_ref: str | None) -> None:
        self.improvements.append(
            {"description": description, "item_id": None if item_id is None else str(item_id),
             "policy_ref": policy_ref}
        )  # fmt: skip
        self.state = FeedbackState.IMPROVING

    @event("Closed")
    def _closed(self, outcome: FeedbackOutcome, reason: str | None) -> None:
        self.state, self.outcome, self.reason = FeedbackState.CLOSED, FeedbackOutcome(outcome).value, reason
