"""quarterly_evaluation equals the figures computed by hand from the commands; sign-offs reproduce."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from nm_workflow.application.errors import FiguresStale
from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.items import ContentItems
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from projections import ReadModel, rebuild
from projections.quarterly_evaluation import read_quarter
from tests.projections.conftest import SupervisorFactory
from tests.projections.quarter_scenario import SHANGHAI, ManualClock, QuarterDriver, expected_rows, who

Q3 = (date(2026, 7, 1), date(2026, 9, 30))
AUDITOR = Actor("aud", frozenset({Role.AUDITOR}), "audit")


def assert_rows_equal(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [(r["department"], r["platform"]) for r in actual] == [
        (r["department"], r["platform"]) for r in expected
    ]
    for got, wanted in zip(actual, expected, strict=True):
        for name, value in wanted.items():
            assert got[name] == (pytest.approx(value) if isinstance(value, float) else value), (
                got["department"], got["platform"], name,
            )  # fmt: skip


def caught_up(store: EventStore, start_supervisor: SupervisorFactory, **overrides: Any) -> None:
    supervisor = start_supervisor(["quarterly_evaluation"], projection_batch_size=13, **overrides)
    assert supervisor.wait_for(store.head(), ["quarterly_evaluation"], timeout=60)


def test_the_quarter_rows_equal_the_figures_computed_from_the_commands_sent(
    store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory, clock: ManualClock
) -> None:
    driver = QuarterDriver(ContentItems(store, clock), clock, seed=3)
    driver.run_quarter(42)
    caught_up(store, start_supervisor)

    rows = read_quarter(read_model, "2026Q3")
    expected = expected_rows(driver.sent, Q3)
    assert_rows_equal(rows, expected)
    total = rows[0]
    assert (total["department"], total["platform"]) == ("*", "*")
    # The scenario covers what the figures are about: late and on-time reviews, every outcome.
    assert 0 < total["reviews_within_deadline_share"] < 1
    assert 0 < total["first_pass_approval_rate"] < 1
    assert total["items_cancelled"]
    assert total["items_withdrawn"]
    assert total["reach"]
    assert total["compliance_findings_per_revision"] > 0  # two findings on some drafts, none on others
    assert {r["department"] for r in rows} == {"*", "marketing", "产品部", "customer_service"}
    assert read_quarter(read_model, "2026Q3", department="产品部", platform="*")[0]["platform"] == "*"


def test_publications_count_in_the_quarter_of_the_company_time_zone(
    store: EventStore,
    make_settings: Callable[..., Settings],
    start_supervisor: SupervisorFactory,
    clock: ManualClock,
) -> None:
    driver = QuarterDriver(ContentItems(store, clock), clock, seed=1)
    item = driver.plan("marketing", ["wechat", "weibo"], datetime(2026, 9, 20, tzinfo=UTC), date(2026, 9, 30))
    driver.review(item)
    driver.publish(item, "wechat", datetime(2026, 9, 30, 23, 30, tzinfo=SHANGHAI))  # 15:30 UTC
    driver.publish(item, "weibo", datetime(2026, 10, 1, 0, 30, tzinfo=SHANGHAI))  # 16:30 UTC on 09-30

    caught_up(store, start_supervisor)
    in_shanghai = ReadModel(make_settings(), store)
    q3, q4 = read_quarter(in_shanghai, "2026Q3"), read_quarter(in_shanghai, "2026Q4")
    assert [(r["platform"], r["items_published"]) for r in q3 if r["department"] == "*"] == [
        ("*", 1), ("wechat", 1), ("weibo", 0),  # weibo: planned in Q3, published in Q4
    ]  # fmt: skip
    assert [(r["platform"], r["items_published"], r["items_planned"]) for r in q4] == [
        ("*", 1, 0), ("weibo", 1, 0), ("*", 1, 0), ("weibo", 1, 0),
    ]  # fmt: skip

    in_utc = ReadModel(make_settings(company_time_zone="UTC"), store)
    # Shanghai's rows read with UTC's settings: refused, naming both and the rebuild.
    stale = r"with time zone Asia/Shanghai.*give time zone UTC.*rebuild quarterly_evaluation"
    with pytest.raises(FiguresStale, match=stale):
        read_quarter(in_utc, "2026Q3")
    assert read_quarter(in_utc, "2027Q1") == []  # no row, nothing stale
    rebuild(in_utc, "quarterly_evaluation")  # a company in UTC: both publications are in Q3
    assert read_quarter(in_utc, "2026Q4") == []
    assert read_quarter(in_utc, "2026Q3")[0]["items_published"] == 1


def test_a_sign_off_is_reproduced_from_the_log_whatever_arrives_later(
    store: EventStore,
    settings: Settings,
    read_model: ReadModel,
    start_supervisor: SupervisorFactory,
    clock: ManualClock,
) -> None:
    driver = QuarterDriver(ContentItems(store, clock), clock, seed=11)
    driver.run_quarter(24)
    evaluations = Evaluations(store, settings)
    board = "board"
    opened = evaluations.open(
        who("olga", Role.MANAGEMENT, board), {"kind": "quarterly_evaluation", "quarter": "2026Q3"}
    )
    evaluation_id = opened.aggregate_id
    finding = {"text": "触达偏低", "severity": "medium", "item_ids": [], "figures": ["reach"]}
    evaluations.record_findings(who("olga", Role.MANAGEMENT, board), evaluation_id, finding)
    signed = evaluations.sign_off(who("sam", Role.MANAGEMENT, board), evaluation_id)
    signed_rows = signed.view["sign_off"]["figures"]
    assert_rows_equal(signed_rows, expected_rows(driver.sent, Q3))
    caught_up(store, start_supervisor)
    assert_rows_equal(
        [{k: v for k, v in r.items() if k != "quarter"} for r in read_quarter(read_model, "2026Q3")],
        signed_rows,
    )

    # Late data: a metrics correction restating reach lower, and a publication reported late in Q3.
    measured = next(s for s in driver.sent if s.observations)
    platform, observations = next(iter(measured.observations.items()))
    latest_at = max(at for at, _ in observations)
    driver.observe(measured, platform, latest_at.replace(microsecond=1), {"reach": 0})
    late = next(s for s in driver.sent if s.first_pass is not None and not s.publications and not s.closed)
    driver.publish(late, late.platforms[0], datetime(2026, 9, 15, 12, tzinfo=SHANGHAI))

    assert evaluations.get(AUDITOR, evaluation_id)["sign_off"]["figures"] == signed_rows
    reproduction = evaluations.reproduce(AUDITOR, evaluation_id)
    assert reproduction.reproduced
    assert reproduction.recomputed == signed_rows
    drift = evaluations.drift(AUDITOR, evaluation_id)
    changed = {(d["department"], d["platform"], d["figure"]): d for d in drift["differences"]}
    now = {(r["department"], r["platform"]): r for r in expected_rows(driver.sent, Q3)}
    total_items = changed[("*", "*", "items_published")]
    assert (total_items["signed"], total_items["other"], total_items["delta"]) == (
        now["*", "*"]["items_published"] - 1, now["*", "*"]["items_published"], 1,
    )  # fmt: skip
    assert ("*", "*", "reach") in changed
    # The view follows the log; the signed figures do not.
    caught_up(store, start_supervisor)
    current = [{k: v for k, v in r.items() if k != "quarter"} for r in read_quarter(read_model, "2026Q3")]
    assert_rows_equal(current, expected_rows(driver.sent, Q3))
    assert current != signed_rows
