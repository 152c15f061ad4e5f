"""quarterly_evaluation's interaction, follower and feedback figures equal those computed by hand
from the commands sent; a sign-off resting on them still reproduces after late data."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from nm_workflow.application.channels import ChannelAccounts
from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.feedback import FeedbackService
from nm_workflow.application.interactions import Interactions
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.interaction_values import InteractionDeadlines
from nm_workflow.domain.roles import Role
from projections import ReadModel
from projections.quarterly_evaluation import read_quarter
from tests.projections.conftest import SupervisorFactory
from tests.projections.quarter_scenario import ManualClock, who
from tests.projections.supervision_scenario import (
    BOARD,
    FIRST_RESPONSE,
    NEGATIVE_HANDLING,
    SUPERVISION_FIGURES,
    SupervisionDriver,
    at,
    expected_supervision_rows,
)

Q3 = (date(2026, 7, 1), date(2026, 9, 30))
AUDITOR = Actor("aud", frozenset({Role.AUDITOR}), "audit")


def driver_for(store: EventStore, settings: Settings, clock: ManualClock) -> SupervisionDriver:
    deadlines = InteractionDeadlines(first_response=FIRST_RESPONSE, negative_handling=NEGATIVE_HANDLING)
    return SupervisionDriver(
        Interactions(store, settings, lambda: deadlines, clock),
        ChannelAccounts(store, settings, clock),
        FeedbackService(store),
        clock,
    )


def quarter_of_activity(driver: SupervisionDriver) -> None:
    """Every case the figures distinguish, around and inside 2026Q3 (Shanghai)."""
    d = driver
    d.interaction("wechat", at(6, 30, 20), answer=1)  # Q2: not counted
    d.interaction("wechat", at(7, 2), answer=2)  # on time
    d.interaction("wechat", at(7, 5), answer=30)  # late
    d.interaction("weibo", at(7, 8), answer=24)  # exactly at the deadline: on time
    d.interaction("wechat", at(7, 11))  # never answered
    d.interaction(
        "weibo", at(7, 14), negative=True, answer=1, escalate_to="marketing", escalate=4, resolve=30
    )
    d.interaction("douyin", at(7, 18), negative=True, answer=3, escalate_to="产品部", escalate=6)  # late
    d.interaction("weibo", at(7, 22), negative=True, answer=0.5, resolve=3)  # resolved in time
    d.interaction("douyin", at(8, 3), negative=True, answer=40)  # neither escalated nor resolved
    d.interaction("douyin", at(8, 9), negative=True, answer=1, escalate_to="marketing", escalate=2, resolve=5)
    d.interaction("xiaohongshu", at(8, 20), answer=12, escalate_to="产品部", escalate=12)
    d.interaction("wechat", at(9, 30, 23.5), answer=1)  # 23:30 on the quarter's last day: Q3
    d.interaction("wechat", at(9, 30, 24.5), answer=1)  # 00:30 on 10-01: Q4
    d.account("wechat", "marketing", {at(6, 20): 1000, at(7, 15): 1200, at(9, 28): 1500, at(10, 5): 1700})
    d.account("weibo", "marketing", {at(8, 1): 300, at(9, 1): 250})  # first observed in Q3, shrinking
    d.account("douyin", "产品部", {at(5, 1): 50, at(6, 1): 80})  # nothing observed in Q3
    d.feedback_given("marketing", at(6, 20), triage_to="产品部", closed=at(7, 3))  # closed in Q3 only
    d.feedback_given("marketing", at(7, 6), triage_to="产品部", closed=at(8, 1))
    d.feedback_given("产品部", at(8, 10))  # open
    d.feedback_given("marketing", at(9, 20), triage_to="marketing", closed=at(10, 2))  # closed in Q4
    d.run()


def assert_supervision_rows(
    rows: list[dict[str, Any]], expected: dict[tuple[str, str], dict[str, Any]]
) -> None:
    got = {(r["department"], r["platform"]): r for r in rows}
    for key, figures in expected.items():
        assert key in got, key
        for name in SUPERVISION_FIGURES:
            wanted = figures[name]
            assert got[key][name] == (pytest.approx(wanted) if isinstance(wanted, float) else wanted), (
                key,
                name,
            )
    # Rows with nothing of these in them have none of these figures.
    for key in got.keys() - expected.keys():
        assert all(got[key][name] is None for name in SUPERVISION_FIGURES), key


def caught_up(store: EventStore, start_supervisor: SupervisorFactory) -> None:
    supervisor = start_supervisor(["quarterly_evaluation"], projection_batch_size=7)
    assert supervisor.wait_for(store.head(), ["quarterly_evaluation"], timeout=60)


def test_the_interaction_follower_and_feedback_figures_equal_those_computed_from_the_commands(
    store: EventStore,
    settings: Settings,
    read_model: ReadModel,
    start_supervisor: SupervisorFactory,
    clock: ManualClock,
) -> None:
    driver = driver_for(store, settings, clock)
    quarter_of_activity(driver)
    caught_up(store, start_supervisor)

    rows = read_quarter(read_model, "2026Q3")
    expected = expected_supervision_rows(driver, Q3)
    assert_supervision_rows(rows, expected)
    total = next(r for r in rows if (r["department"], r["platform"]) == ("*", "*"))
    # The scenario covers what the figures are about.
    assert total["interactions_received"] == 11
    assert 0 < total["interactions_answered_in_time_share"] < 1
    assert total["escalations_opened"] == 4
    assert 0 < total["escalations_closed_in_time_share"] < 1
    assert total["follower_growth"] == 500 - 50
    assert (total["feedback_received"], total["feedback_closed"]) == (3, 2)
    assert {k for k in expected if k[1] == "*"} >= {
        ("产品部", "*"),
        ("marketing", "*"),
        ("customer_service", "*"),
    }
    # Feedback has no platform: none of it on a platform's row.
    assert all(r["feedback_received"] is None for r in rows if r["platform"] != "*")
    assert read_quarter(read_model, "2026Q4")[0]["interactions_received"] == 1


def test_a_sign_off_on_these_figures_reproduces_whatever_arrives_later(
    store: EventStore,
    settings: Settings,
    start_supervisor: SupervisorFactory,
    read_model: ReadModel,
    clock: ManualClock,
) -> None:
    driver = driver_for(store, settings, clock)
    quarter_of_activity(driver)
    evaluations = Evaluations(store, settings)
    opened = evaluations.open(BOARD, {"kind": "quarterly_evaluation", "quarter": "2026Q3"})
    evaluation_id = opened.aggregate_id
    finding = {
        "text": "回复偏慢",
        "severity": "medium",
        "item_ids": [],
        "figures": ["first_response_median_hours"],
    }
    evaluations.record_findings(BOARD, evaluation_id, finding)
    signed = evaluations.sign_off(who("sam", Role.MANAGEMENT, "board"), evaluation_id).view["sign_off"][
        "figures"
    ]
    assert_supervision_rows(signed, expected_supervision_rows(driver, Q3))

    # Late data for Q3: a follower count corrected, the unanswered comment answered, its
    # personal data erased (which changes no figure), and feedback reported closed.
    wechat = driver.sent_accounts[0]
    driver.later(at(10, 20), lambda: driver.observe(wechat, at(9, 28), 1400, correction=True))
    unanswered = driver.sent_interactions[4]
    driver.later(at(10, 21), lambda: driver.respond(unanswered, at(10, 21)))
    driver.run()
    assert unanswered.id is not None
    unanswered.first_response = at(10, 21)
    Interactions(store, settings, clock=clock).erase(BOARD, unanswered.id, "用户要求删除")

    reproduction = evaluations.reproduce(AUDITOR, evaluation_id)
    assert reproduction.reproduced
    assert reproduction.recomputed == signed
    assert evaluations.get(AUDITOR, evaluation_id)["sign_off"]["figures"] == signed
    drift = evaluations.drift(AUDITOR, evaluation_id)
    changed = {(x["department"], x["platform"], x["figure"]): x for x in drift["differences"]}
    assert changed["*", "*", "follower_growth"]["delta"] == -100
    assert changed["*", "*", "first_response_median_hours"]["delta"] > 0
    caught_up(store, start_supervisor)
    assert_supervision_rows(read_quarter(read_model, "2026Q3"), expected_supervision_rows(driver, Q3))
