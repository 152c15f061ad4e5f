"""The Evaluation aggregate: a periodic check (Ch. 6.1) or a quarterly evaluation (Ch. 6.2).

Management opens it for a period, optionally scoped to some departments or
platforms, records findings (results and problems) and recommendations
(improvements, each with an owner department and a due date), and signs it
off. The sign-off freezes the figures the evaluation rests on together with
the event-log position they were computed at, so that they can be reproduced
from the log later. Recommendations are closed (what was done) before or after
the sign-off; nothing else changes once it is signed off.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from enum import StrEnum
from typing import Any, TypedDict
from uuid import UUID

from eventsourcing.domain import event

from nm_workflow.domain.errors import RuleViolation
from nm_workflow.domain.metadata import WorkflowAggregate
from nm_workflow.domain.oversight_errors import (
    EvaluationSignedOff,
    InvalidPeriod,
    NothingToSignOff,
    NotTheOwnerDepartment,
    RecommendationClosed,
    SignOffByOpener,
    UnknownFigure,
    UnknownRecommendation,
)
from nm_workflow.domain.periods import Period


class EvaluationKind(StrEnum):
    PERIODIC_CHECK = "periodic_check"
    QUARTERLY_EVALUATION = "quarterly_evaluation"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Finding(TypedDict):
    number: int
    text: str
    severity: str
    item_ids: list[str]
    figures: list[str]
    recorded_by: str


class Recommendation(TypedDict):
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


class SignOff(TypedDict):
    signed_off_by: str
    comment: str | None
    position: int
    parameters: dict[str, Any]
    figures: list[dict[str, Any]]


class Evaluation(WorkflowAggregate):
    @event("Opened")
    def __init__(
        self,
        *,
        kind: str,
        period_first: date,
        period_last: date,
        departments: list[str],
        platforms: list[str],
        department: str,
        opener_id: str,
    ) -> None:
        self.kind, self.period_first, self.period_last = kind, period_first, period_last
        self.departments, self.platforms = list(departments), list(platforms)
        self.department, self.opener_id = department, opener_id
        self.findings: list[Finding] = []
        self.recommendations: list[Recommendation] = []
        self.signature: SignOff | None = None

    @classmethod
    def open(
        cls,
        *,
        kind: EvaluationKind,
        period: Period,
        departments: list[str],
        platforms: list[str],
        department: str,
        opener_id: str,
    ) -> Evaluation:
        """Ch. 6.2 evaluates every quarter: a quarterly evaluation covers one calendar quarter exactly."""
        if kind is EvaluationKind.QUARTERLY_EVALUATION and period.quarter is None:
            raise InvalidPeriod(
                f"A quarterly evaluation covers one calendar quarter; {period.first} to {period.last} "
                "is not one."
            )
        for name, values in (("department", departments), ("platform", platforms)):
            if len(set(values)) != len(values):
                raise RuleViolation(f"Each {name} may appear only once in the evaluation's scope.")
        return cls(
            kind=kind.value,
            period_first=period.first,
            period_last=period.last,
            departments=sorted(departments),
            platforms=sorted(platforms),
            department=department,
            opener_id=opener_id,
        )

    @property
    def period(self) -> Period:
        return Period(self.period_first, self.period_last)

    @property
    def signed_off(self) -> bool:
        return self.signature is not None

    # --- commands ---------------------------------------------------------------

    def record_findings(
        self,
        *,
        text: str,
        severity: Severity,
        item_ids: list[UUID],
        figures: list[str],
        known_figures: Collection[str],
        recorded_by: str,
    ) -> None:
        """Ch. 6.1: results and problems; a finding may point at items and at figures of the view."""
        self._require_unsigned("record findings")
        unknown = sorted(set(figures) - set(known_figures))
        if unknown:
            raise UnknownFigure(f"The evaluation view has no figure {', '.join(unknown)}.")
        self._findings_recorded(
            number=len(self.findings) + 1,
            text=text,
            severity=severity.value,
            item_ids=[str(i) for i in dict.fromkeys(item_ids)],
            figures=list(dict.fromkeys(figures)),
            recorded_by=recorded_by,
        )

    def make_recommendation(
        self, *, text: str, owner_department: str, due_date: date, finding: int | None, made_by: str
    ) -> None:
        """Ch. 6.2 "提出改进建议": an improvement, owned by a department, due by a date."""
        self._require_unsigned("make recommendations")
        if due_date < self.period_last:
            raise RuleViolation(
                f"A recommendation is due on or after the last day evaluated ({self.period_last})."
            )
        if finding is not None and not 1 <= finding <= len(self.findings):
            raise RuleViolation(f"The evaluation has no finding {finding}.")
        self._recommendation_made(
            number=len(self.recommendations) + 1,
            text=text,
            owner_department=owner_department,
            due_date=due_date,
            finding=finding,
            made_by=made_by,
        )

    def close_recommendation(
        self,
        *,
        number: int,
        outcome: str,
        policy_proposal_id: str | None,
        feedback_id: str | None,
        closer_department: str | None,
    ) -> None:
        """What was done about a recommendation; allowed after the sign-off (the work comes later).

        `closer_department` is None for management (a central function), else the department of
        the department head closing it, which must own the recommendation (Ch. 6.2).
        """
        if not 1 <= number <= len(self.recommendations):
            raise UnknownRecommendation(f"The evaluation has no recommendation {number}.")
        recommendation = self.recommendations[number - 1]
        if recommendation["closed"]:
            raise RecommendationClosed(f"Recommendation {number} is already closed.")
        owner = recommendation["owner_department"]
        if closer_department is not None and closer_department != owner:
            raise NotTheOwnerDepartment(
                f"Recommendation {number} is owned by department '{owner}', not '{closer_department}'."
            )
        self._recommendation_closed(
            number=number, outcome=outcome, policy_proposal_id=policy_proposal_id, feedback_id=feedback_id
        )

    def sign_off(
        self,
        *,
        signer_id: str,
        comment: str | None,
        figures: list[dict[str, Any]],
        position: int,
        parameters: dict[str, Any],
        by_another_person: bool,
    ) -> None:
        """Freeze the figures computed at log `position` with `parameters` (time zone, deadlines)."""
        self._require_unsigned("sign it off again")
        if not self.findings:
            raise NothingToSignOff("Record at least one finding (results or problems) before signing off.")
        if by_another_person and signer_id == self.opener_id:
            raise SignOffByOpener(f"{signer_id} opened this evaluation; another manager signs it off.")
        self._signed_off(
            signed_off_by=signer_id,
            comment=comment,
            position=position,
            parameters=parameters,
            figures=figures,
        )

    def _require_unsigned(self, action: str) -> None:
        if self.signature is not None:
            raise EvaluationSignedOff(f"The evaluation was signed off; cannot {action}.")

    # --- events -----------------------------------------------------------------

    @event("FindingsRecorded")
    def _findings_recorded(
        self, number: int, text: str, severity: str, item_ids: list[str], figures: list[str], recorded_by: str
    ) -> None:
        self.findings.append(
            Finding(
                number=number,
                text=text,
                severity=severity,
                item_ids=list(item_ids),
                figures=list(figures),
                recorded_by=recorded_by,
            )
        )

    @event("RecommendationMade")
    def _recommendation_made(
        self, number: int, text: str, owner_department: str, due_date: date, finding: int | None, made_by: str
    ) -> None:
        self.recommendations.append(
            Recommendation(
                number=number,
                text=text,
                owner_department=owner_department,
                due_date=due_date,
                finding=finding,
                made_by=made_by,
                closed=False,
                outcome=None,
                policy_proposal_id=None,
                feedback_id=None,
            )
        )

    @event("RecommendationClosed")
    def _recommendation_closed(
        self, number: int, outcome: str, policy_proposal_id: str | None, feedback_id: str | None
    ) -> None:
        recommendation = self.recommendations[number - 1]
        recommendation["closed"], recommendation["outcome"] = True, outcome
        recommendation["policy_proposal_id"], recommendation["feedback_id"] = policy_proposal_id, feedback_id

    @event("SignedOff")
    def _signed_off(
        self,
        signed_off_by: str,
        comment: str | None,
        position: int,
        parameters: dict[str, Any],
        figures: list[dict[str, Any]],
    ) -> None:
        self.signature = SignOff(
            signed_off_by=signed_off_by,
            comment=comment,
            position=position,
            parameters=dict(parameters),
            figures=list(figures),
        )
