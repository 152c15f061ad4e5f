"""Bodies of the supervision API (Ch. 6.1, 6.2): evaluations and the quarterly report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from nm_workflow.domain.evaluation import EvaluationKind, Severity
from nm_workflow.interface.http.schemas import Command, Long, Medium, Platform, Short
from nm_workflow.interface.http.times import Day

QuarterLabel = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}Q[1-4]$")]
FigureValue = int | float | str | None

_EVALUATION = "5d1c2b7e-0f3a-4e8b-9c61-2a7f4b9e0d12"
_ROW: dict[str, Any] = {"quarter": "2026Q3", "department": "*", "platform": "*", "items_planned": 120,
        "items_published": 84, "reviews_within_deadline_share": 0.91, "interaction_rate": 0.034}  # fmt: skip
_EVALUATION_EXAMPLE: dict[str, Any] = {
    "id": _EVALUATION, "version": 4, "kind": "quarterly_evaluation", "period_first": "2026-07-01",
    "period_last": "2026-09-30", "quarter": "2026Q3", "departments": [], "platforms": [],
    "department": "management", "opened_by": "olga",
    "findings": [{"number": 1, "text": "Legal reviews took too long", "severity": "high", "item_ids": [],
                  "figures": ["review_median_hours_legal"], "recorded_by": "olga"}],
    "recommendations": [{"number": 1, "text": "Add a second legal reviewer", "owner_department": "legal",
                         "due_date": "2026-12-31", "finding": 1, "made_by": "olga", "closed": False,
                         "outcome": None, "policy_proposal_id": None, "feedback_id": None}],
    "sign_off": {"signed_off_by": "sam", "comment": "Q3 evaluated", "position": 5120,
                 "parameters": {"company_time_zone": "Asia/Shanghai", "review_stage_hours": 48},
                 "figures": [_ROW]},
    "created_at": "2026-10-08T02:00:00Z", "modified_at": "2026-10-09T06:30:00Z",
}  # fmt: skip
_DRIFT_EXAMPLE: dict[str, Any] = {
    "signed_position": 5120, "position": 5388,
    "differences": [{"department": "*", "platform": "*", "figure": "reach", "signed": 1200000,
                     "other": 1150000, "delta": -50000}],
}  # fmt: skip
_REPORT_EXAMPLE: dict[str, Any] = {"quarter": "2026Q3", "position": 5388, "rows": [_ROW]}
_QUEUE_EXAMPLE: dict[str, Any] = {
    "evaluations": [{"evaluation_id": _EVALUATION, "kind": "quarterly_evaluation",
                     "period_first": "2026-07-01", "period_last": "2026-09-30", "departments": [],
                     "platforms": [], "opened_by": "olga",
                     "opened_at": "2026-10-08T02:00:00Z", "findings": 1, "recommendations": 1,
                     "recommendations_open": 1}],
    "recommendations": [{"evaluation_id": _EVALUATION, "number": 1, "text": "Add a second legal reviewer",
                         "owner_department": "legal", "due_date": "2026-12-31", "finding": 1,
                         "made_by": "olga", "made_at": "2026-10-08T02:10:00Z", "overdue": False}],
    "periodic_check": {"last_period_last": "2026-10-31", "interval_days": 30, "next_due": "2026-11-30",
                       "overdue": False},
}  # fmt: skip


class EvaluationIn(Command):
    kind: EvaluationKind
    quarter: QuarterLabel | None = Field(default=None, description="e.g. 2026Q3; or give period_first/last.")
    period_first: Day | None = Field(default=None, description="First day evaluated (company time zone).")
    period_last: Day | None = Field(default=None, description="Last day evaluated, included.")
    departments: list[Short] = Field(default_factory=list, max_length=50, description="Empty: all.")
    platforms: list[Platform] = Field(default_factory=list, max_length=20, description="Empty: all.")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kind": "quarterly_evaluation", "quarter": "2026Q3"}]},
    )


class FindingIn(Command):
    text: Long
    severity: Severity
    item_ids: list[UUID] = Field(default_factory=list, max_length=200)
    figures: list[Short] = Field(default_factory=list, max_length=50, description="Figure names of the view.")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "Legal reviews took too long",
                    "severity": "high",
                    "figures": ["review_median_hours_legal"],
                }
            ]
        },
    )


class RecommendationIn(Command):
    text: Long
    owner_department: Short
    due_date: Day
    finding: Annotated[int, Strict(), Field(ge=1, le=10_000)] | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "Add a second legal reviewer", "owner_department": "legal", "due_date": "2026-12-31",
                 "finding": 1}
            ]
        },
    )  # fmt: skip


class ClosureIn(Command):
    outcome: Long
    policy_proposal_id: Short | None = Field(default=None, description="A policy revision it led to.")
    feedback_id: Short | None = Field(default=None, description="The feedback it answered.")

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"outcome": "Second reviewer since 2026-11-01"}]}
    )


class SignOffIn(Command):
    comment: Medium | None = Field(default=None, description="What the sign-off states, if anything.")

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"comment": "Q3 evaluated; see recommendations"}]}
    )


class FindingOut(BaseModel):
    number: int
    text: str
    severity: Severity
    item_ids: list[str]
    figures: list[str]
    recorded_by: str


class RecommendationOut(BaseModel):
    number: int
    text: str
    owner_department: str
    due_date: date
    finding: int | None
    made_by: str
    closed: bool
    outcome: str | None
    policy_proposal_id: str | None
    feedback_id: str | None


class SignOffOut(BaseModel):
    signed_off_by: str
    comment: str | None
    position: int = Field(description="Event-log position the figures were computed at.")
    parameters: dict[str, Any] = Field(description="Company time zone and review deadline used.")
    figures: list[dict[str, FigureValue]] = Field(description="The rows signed off, as computed then.")


class EvaluationOut(BaseModel):
    id: UUID
    version: int
    kind: EvaluationKind
    period_first: date
    period_last: date
    quarter: str | None
    departments: list[str]
    platforms: list[str]
    department: str
    opened_by: str
    findings: list[FindingOut]
    recommendations: list[RecommendationOut]
    sign_off: SignOffOut | None
    created_at: datetime
    modified_at: datetime

    model_config = ConfigDict(json_schema_extra={"examples": [_EVALUATION_EXAMPLE]})


class Difference(BaseModel):
    department: str
    platform: str
    figure: str
    signed: FigureValue
    other: FigureValue = Field(description="The value the log gives now.")
    delta: float | None


class DriftOut(BaseModel):
    signed_position: int
    position: int = Field(description="The log head the current figures were computed at.")
    differences: list[Difference]

    model_config = ConfigDict(json_schema_extra={"examples": [_DRIFT_EXAMPLE]})


class QuarterlyReport(BaseModel):
    quarter: str
    position: int = Field(description="Log position the projection reflected.")
    rows: list[dict[str, FigureValue]] = Field(
        description="quarterly_evaluation rows; see docs/projections.md."
    )

    model_config = ConfigDict(json_schema_extra={"examples": [_REPORT_EXAMPLE]})


class EvaluationStatusRow(BaseModel):
    evaluation_id: UUID
    kind: EvaluationKind
    period_first: date
    period_last: date
    departments: list[str]
    platforms: list[str]
    opened_by: str
    opened_at: datetime
    findings: int
    recommendations: int
    recommendations_open: int


class OpenRecommendation(BaseModel):
    evaluation_id: UUID
    number: int
    text: str
    owner_department: str
    due_date: date
    finding: int | None
    made_by: str | None
    made_at: datetime
    overdue: bool = Field(description="The due date has passed (company time zone).")


class PeriodicCheckDue(BaseModel):
    last_period_last: date | None = Field(
        description="Last day of the latest periodic check; null: none yet."
    )
    interval_days: int
    next_due: date | None
    overdue: bool = Field(description="The next check is past due, or there never was one.")


class EvaluationQueue(BaseModel):
    evaluations: list[EvaluationStatusRow] = Field(description="Not signed off yet, oldest period first.")
    recommendations: list[OpenRecommendation] = Field(description="Not closed yet, earliest due first.")
    periodic_check: PeriodicCheckDue

    model_config = ConfigDict(json_schema_extra={"examples": [_QUEUE_EXAMPLE]})
