"""Request and response bodies of feedback (Ch. 6.3)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from nm_workflow.domain.feedback import FeedbackOutcome, FeedbackState, FeedbackSubject
from nm_workflow.interface.http.schemas import Command, Long, Medium, Short, example
from nm_workflow.interface.http.schemas_reads import row_example


class FeedbackIn(Command):
    subject: FeedbackSubject
    subject_ref: Short | None = Field(default=None, description="Which item, campaign, channel, ... if any.")
    text: Long

    model_config = example(
        {
            "subject": "process",
            "subject_ref": None,
            "text": "Legal review takes a week; a checklist would help.",
        }
    )


class TriageIn(Command):
    department: Short
    owner_id: Short = Field(description="The person who follows it up.")

    model_config = example({"department": "legal", "owner_id": "lee"})


class ImprovementIn(Command):
    description: Long = Field(description="What changed.")
    item_id: UUID | None = Field(default=None, description="A content item the change concerns.")
    policy_ref: Short | None = Field(default=None, description="A proposal to change the policy, if any.")

    model_config = example({"description": "Published a legal review checklist", "policy_ref": "proposal-12"})


class ClosureIn(Command):
    outcome: FeedbackOutcome
    reason: Medium | None = Field(default=None, description="Required when declined.")

    model_config = example({"outcome": "adopted", "reason": None})


class ImprovementOut(BaseModel):
    description: str
    item_id: UUID | None
    policy_ref: str | None


class FeedbackOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6a0d3c8e-1f7b-4c2a-9e5d-2b8f7c6a1e30", "version": 2, "subject": "process",
                    "subject_ref": None, "text": "Legal review takes a week; a checklist would help.",
                    "source": "staff", "submitted_by": "mia", "department": "legal", "owner_id": "lee",
                    "state": "triaged", "improvements": [], "outcome": None, "reason": None,
                    "created_at": "2026-03-01T08:00:00Z", "modified_at": "2026-03-01T09:00:00Z",
                }
            ]
        }
    )  # fmt: skip

    id: UUID
    version: int = Field(description="Aggregate version; also sent as the ETag.")
    subject: FeedbackSubject
    subject_ref: str | None
    text: str
    source: str = Field(
        description="'staff', or 'user via <service>' for users' feedback relayed by a service."
    )
    submitted_by: str
    department: str = Field(description="The submitter's department until triaged, then the owning one.")
    owner_id: str | None
    state: FeedbackState
    improvements: list[ImprovementOut]
    outcome: FeedbackOutcome | None
    reason: str | None
    created_at: datetime
    modified_at: datetime


class FeedbackLogRow(BaseModel):
    model_config = row_example(**
        {
            "feedback_id": "2d7e9a41-5c3b-4f8e-a1d2-6b7c8d9e0f12", "subject": "process", "subject_ref": None,
            "source": "staff", "submitted_by": "mia", "department": "legal", "owner_id": "lee",
            "state": "closed", "submitted_at": "2026-03-02T09:00:00Z", "triaged_at": "2026-03-02T11:00:00Z",
            "improvements": 1, "last_improvement_at": "2026-03-05T16:00:00Z",
            "closed_at": "2026-03-06T10:00:00Z", "outcome": "adopted", "reason": None,
            "time_to_close_seconds": 349200.0, "submitted_position": 51, "position": 77,
        }
    )  # fmt: skip

    feedback_id: UUID
    subject: FeedbackSubject
    subject_ref: str | None
    source: str
    submitted_by: str
    department: str
    owner_id: str | None
    state: FeedbackState
    submitted_at: datetime
    triaged_at: datetime | None
    improvements: int
    last_improvement_at: datetime | None
    closed_at: datetime | None
    outcome: FeedbackOutcome | None
    reason: str | None
    time_to_close_seconds: float | None
    submitted_position: int
    position: int
