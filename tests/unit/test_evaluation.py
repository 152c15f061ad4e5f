"""Evaluation (policy Ch. 6.1, 6.2): opening, findings, recommendations, sign-off, and replay."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from pydantic import ValidationError

from nm_workflow.application.evaluations import supervision_queue
from nm_workflow.application.settings import Settings
from nm_workflow.domain import errors, oversight_errors
from nm_workflow.domain.evaluation import Evaluation, EvaluationKind, Severity
from nm_workflow.domain.periods import Period, quarter

FIGURES = ("items_planned", "reach")
ROWS = [{"department": "*", "platform": "*", "items_planned": 3, "reach": 120}]


def opened(kind: EvaluationKind = EvaluationKind.QUARTERLY_EVALUATION, **scope: list[str]) -> Evaluation:
    return Evaluation.open(
        kind=kind,
        period=quarter("2026Q3"),
        departments=scope.get("departments", []),
        platforms=scope.get("platforms", ["weibo", "wechat"]),
        department="board",
        opener_id="olga",
    )


def with_finding(evaluation: Evaluation) -> Evaluation:
    evaluation.record_findings(
        text="Reach fell on weibo", severity=Severity.HIGH, item_ids=[uuid4()], figures=["reach"],
        known_figures=FIGURES, recorded_by="olga",
    )  # fmt: skip
    return evaluation


def sign(evaluation: Evaluation, signer: str = "sam") -> None:
    evaluation.sign_off(
        signer_id=signer, comment=None, figures=ROWS, position=42, parameters={"time_zone": "Asia/Shanghai"},
        by_another_person=True,
    )  # fmt: skip


def test_opening_a_quarterly_evaluation_records_period_and_scope() -> None:
    evaluation = opened()
    (event,) = evaluation.collect_events()
    assert type(event).__name__ == "Opened"
    assert (evaluation.period, evaluation.period.quarter) == (
        Period(date(2026, 7, 1), date(2026, 9, 30)),
        "2026Q3",
    )
    assert evaluation.platforms == ["wechat", "weibo"]
    assert getattr(event, "meta") == {}  # noqa: B009 (no command context: metadata is the application's)


def test_a_quarterly_evaluation_must_cover_exactly_one_quarter() -> None:
    with pytest.raises(oversight_errors.InvalidPeriod, match="one calendar quarter"):
        Evaluation.open(
            kind=EvaluationKind.QUARTERLY_EVALUATION, period=Period(date(2026, 7, 1), date(2026, 8, 31)),
            departments=[], platforms=[], department="board", opener_id="olga",
        )  # fmt: skip


def test_a_periodic_check_covers_any_period_but_not_a_reversed_one() -> None:
    check = Evaluation.open(
        kind=EvaluationKind.PERIODIC_CHECK, period=Period(date(2026, 7, 1), date(2026, 7, 31)),
        departments=["product"], platforms=[], department="board", opener_id="olga",
    )  # fmt: skip
    assert check.period.quarter is None
    with pytest.raises(oversight_errors.InvalidPeriod, match="ends"):
        Period(date(2026, 7, 2), date(2026, 7, 1))


@pytest.mark.parametrize("label", ["2026Q5", "2026-Q3", "Q3", "0000Q1", ""])
def test_malformed_quarters_are_refused(label: str) -> None:
    with pytest.raises(oversight_errors.InvalidPeriod):
        quarter(label)


def test_a_repeated_department_in_the_scope_is_refused() -> None:
    with pytest.raises(errors.RuleViolation, match="only once"):
        opened(departments=["product", "product"])


def test_findings_name_only_figures_the_view_has() -> None:
    evaluation = opened()
    with pytest.raises(oversight_errors.UnknownFigure, match="no figure likes_per_day"):
        evaluation.record_findings(
            text="x", severity=Severity.LOW, item_ids=[], figures=["likes_per_day"], known_figures=FIGURES,
            recorded_by="olga",
        )  # fmt: skip
    with_finding(evaluation)
    assert evaluation.findings[0]["number"] == 1
    assert evaluation.findings[0]["figures"] == ["reach"]


def test_recommendations_have_an_owner_a_due_date_after_the_period_and_a_known_finding() -> None:
    evaluation = with_finding(opened())
    with pytest.raises(errors.RuleViolation, match="due on or after"):
        evaluation.make_recommendation(
            text="Post at noon",
            owner_department="marketing",
            due_date=date(2026, 9, 1),
            finding=1,
            made_by="olga",
        )
    with pytest.raises(errors.RuleViolation, match="no finding 2"):
        evaluation.make_recommendation(
            text="Post at noon",
            owner_department="marketing",
            due_date=date(2026, 12, 1),
            finding=2,
            made_by="o",
        )
    evaluation.make_recommendation(
        text="Post at noon",
        owner_department="marketing",
        due_date=date(2026, 12, 1),
        finding=1,
        made_by="olga",
    )
    assert evaluation.recommendations[0]["closed"] is False


def test_closing_a_recommendation_works_after_sign_off_but_only_once() -> None:
    evaluation = with_finding(opened())
    evaluation.make_recommendation(
        text="Answer faster", owner_department="cs", due_date=date(2026, 12, 1), finding=None, made_by="olga"
    )
    sign(evaluation)
    with pytest.raises(oversight_errors.UnknownRecommendation):
        evaluation.close_recommendation(
            number=2, outcome="done", policy_proposal_id=None, feedback_id=None, closer_department=None
        )
    evaluation.close_recommendation(
        number=1, outcome="Rota changed", policy_proposal_id="p-7", feedback_id=None, closer_department="cs"
    )
    with pytest.raises(oversight_errors.RecommendationClosed):
        evaluation.close_recommendation(
            number=1, outcome="again", policy_proposal_id=None, feedback_id=None, closer_department=None
        )
    assert evaluation.recommendations[0]["outcome"] == "Rota changed"


def test_a_department_head_closes_only_recommendations_its_department_owns() -> None:
    evaluation = with_finding(opened())
    evaluation.make_recommendation(
        text="Answer faster", owner_department="cs", due_date=date(2026, 12, 1), finding=None, made_by="olga"
    )
    with pytest.raises(oversight_errors.NotTheOwnerDepartment, match="'cs', not 'marketing'"):
        evaluation.close_recommendation(
            number=1, outcome="done", policy_proposal_id=None, feedback_id=None, closer_department="marketing"
        )
    assert evaluation.recommendations[0]["closed"] is False
    evaluation.close_recommendation(
        number=1, outcome="done", policy_proposal_id=None, feedback_id=None, closer_department="cs"
    )
    assert evaluation.recommendations[0]["closed"] is True


def test_sign_off_needs_a_finding_and_another_person_than_the_opener() -> None:
    evaluation = opened()
    with pytest.raises(oversight_errors.NothingToSignOff):
        sign(evaluation)
    with_finding(evaluation)
    with pytest.raises(oversight_errors.SignOffByOpener):
        sign(evaluation, signer="olga")
    sign(evaluation)
    assert evaluation.signature is not None
    assert evaluation.signature["figures"] == ROWS
    assert evaluation.signature["position"] == 42


def test_nothing_but_closing_recommendations_changes_a_signed_off_evaluation() -> None:
    evaluation = with_finding(opened())
    sign(evaluation)
    with pytest.raises(oversight_errors.EvaluationSignedOff):
        with_finding(evaluation)
    with pytest.raises(oversight_errors.EvaluationSignedOff):
        evaluation.make_recommendation(
            text="x", owner_department="cs", due_date=date(2026, 12, 1), finding=None, made_by="olga"
        )
    with pytest.raises(oversight_errors.EvaluationSignedOff):
        sign(evaluation)


def test_replaying_the_events_rebuilds_the_same_evaluation() -> None:
    evaluation = with_finding(opened())
    evaluation.make_recommendation(
        text="Answer faster", owner_department="cs", due_date=date(2026, 12, 1), finding=1, made_by="olga"
    )
    evaluation.close_recommendation(
        number=1, outcome="done", policy_proposal_id=None, feedback_id="f-1", closer_department=None
    )
    sign(evaluation)
    events = evaluation.collect_events()
    assert [type(e).__name__ for e in events] == [
        "Opened", "FindingsRecorded", "RecommendationMade", "RecommendationClosed", "SignedOff",
    ]  # fmt: skip
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert isinstance(replayed, Evaluation)
    assert replayed.__dict__ == evaluation.__dict__


def test_quarters_at_the_ends_of_the_calendar() -> None:
    assert quarter("9999Q4") == Period(date(9999, 10, 1), date(9999, 12, 31))
    assert quarter("0001Q1").quarter == "0001Q1"
    assert quarter("2024q1").last == date(2024, 3, 31)


def test_the_queue_says_when_the_next_periodic_check_is_due() -> None:
    check = {"period_last": date(2026, 6, 30)}
    queue = {
        "evaluations": [],
        "recommendations": [{"due_date": date(2026, 7, 1)}],
        "last_periodic_check": [check],
    }
    due = supervision_queue(queue, date(2026, 7, 30), 30)
    assert due["periodic_check"] == {
        "last_period_last": date(2026, 6, 30), "interval_days": 30, "next_due": date(2026, 7, 30),
        "overdue": False,
    }  # fmt: skip
    assert due["recommendations"][0]["overdue"] is True
    assert supervision_queue(queue, date(2026, 7, 31), 30)["periodic_check"]["overdue"] is True
    last_day = supervision_queue(
        {**queue, "last_periodic_check": [{"period_last": date.max}]}, date(2026, 7, 1), 30
    )
    assert last_day["periodic_check"]["next_due"] == date.max


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "Asia/"])
def test_an_unknown_company_time_zone_stops_the_service_at_start(zone: str) -> None:
    with pytest.raises(ValidationError, match="not a known IANA time zone"):
        Settings(company_time_zone=zone)
    assert Settings(company_time_zone="Europe/Berlin").company_time_zone == "Europe/Berlin"


def test_a_quarter_label_is_trimmed_of_white_space_only() -> None:
    assert quarter("\u3000 2026q3 ") == quarter("2026Q3")
    with pytest.raises(oversight_errors.InvalidPeriod):
        quarter("\x1f2026Q3")
