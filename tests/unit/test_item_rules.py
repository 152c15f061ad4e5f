"""ContentItem rules added by issue 6: believable times, decisions tied to their revision,
one order of checks, counter corrections, and values pinned away from ASCII and UTC.

Builders come from test_content_item; times are chosen around its AT and NOW.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from nm_workflow.domain import errors
from nm_workflow.domain.content import as_utc, content_hash
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.roles import SEED_CHAIN, Stage
from nm_workflow.domain.timing import Now, utc_text
from tests.unit.test_content_item import (
    AT,
    NOW,
    SCHEDULED,
    approve,
    approved,
    cancelled,
    draft,
    in_review,
    metrics,
    only_event,
    plan_item,
    publish,
    published,
    refused,
    withdrawn,
)

SKEW = NOW.clock_skew
HORIZON = NOW.planning_horizon
TICK = timedelta(microseconds=1)


# --- times that happened: not in the future beyond the clock skew ---------------------------


def test_a_publication_may_lie_up_to_the_clock_skew_ahead_of_now() -> None:
    item = approved()
    publish(item, at=NOW.at + SKEW)
    assert item.publications["weibo"]["published_at"] == NOW.at + SKEW


def test_a_publication_further_ahead_is_refused() -> None:
    item = approved()
    with refused(item, errors.TimeInTheFuture, "publication time", "300 s"):
        publish(item, at=NOW.at + SKEW + TICK)


def test_an_observation_further_ahead_than_the_clock_skew_is_refused() -> None:
    item = published()
    assert metrics(item, {"likes": 1}, at=NOW.at + SKEW) is True
    with refused(item, errors.TimeInTheFuture, "observation time"):
        metrics(item, {"likes": 2}, at=NOW.at + SKEW + TICK)


def test_the_clock_skew_is_the_one_given() -> None:
    item = approved()
    strict = Now(AT, clock_skew=timedelta(0))
    with refused(item, errors.TimeInTheFuture):
        item.publish(
            platform="weibo", published_at=AT + TICK, external_id="w", url=None, revision=1,
            content_hash=item.current_revision["content_hash"], now=strict,
        )  # fmt: skip


def test_happened_checks_are_reusable_for_any_report() -> None:
    NOW.check_happened(NOW.at + SKEW, "reception time")
    with pytest.raises(errors.TimeInTheFuture, match="reception time"):
        NOW.check_happened(NOW.at + SKEW + TICK, "reception time")


# --- a publication cannot predate the approval that allowed it (Ch. 5.4) --------------------


def test_a_publication_before_the_legal_approval_is_refused() -> None:
    item = in_review(Stage.LEGAL)
    approve(item, Stage.LEGAL)
    approved_at = only_event(item, "LegallyApproved").timestamp
    assert item.approved_at == approved_at
    with refused(item, errors.PublishedBeforeApproval, "before revision 1 was approved"):
        publish(item, at=approved_at - TICK)
    publish(item, at=approved_at)
    assert item.publications["weibo"]["published_at"] == approved_at


def test_a_refusal_writes_its_times_in_utc_with_z_as_every_answer_does() -> None:
    item = in_review(Stage.LEGAL)
    approve(item, Stage.LEGAL)
    approved_at = only_event(item, "LegallyApproved").timestamp
    sent = (approved_at - TICK).astimezone(timezone(timedelta(hours=8)))  # a client east of UTC
    approved = utc_text(approved_at)
    with refused(item, errors.PublishedBeforeApproval, f"approved, at {approved}", "Z is before"):
        publish(item, at=sent)


def test_the_approval_time_survives_replay() -> None:
    events = approved_history()
    replayed = replay(events)
    assert replayed.approved_at == events[-1].timestamp


def approved_history() -> list[Any]:
    """Every event of an item from its plan to its legal approval."""
    item = plan_item()
    draft(item)
    item.request_review(revision=1)
    for stage in SEED_CHAIN:
        approve(item, stage)
    return list(item.collect_events())


def replay(events: list[Any]) -> Any:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


# --- times future by nature: from now to the planning horizon -------------------------------


@pytest.mark.parametrize("offset", [-SKEW, HORIZON])
def test_a_schedule_within_the_horizon_is_recorded(offset: timedelta) -> None:
    item = approved()
    item.schedule_publication(platform="wechat", at=NOW.at + offset, now=NOW)
    assert item.schedule == {"wechat": NOW.at + offset}


@pytest.mark.parametrize("offset", [-SKEW - TICK, HORIZON + TICK, timedelta(days=-365 * 56)])
def test_a_schedule_in_the_past_or_beyond_the_horizon_is_refused(offset: timedelta) -> None:
    item = approved()
    with refused(item, errors.OutsidePlanningHorizon, "scheduled time"):
        item.schedule_publication(platform="wechat", at=NOW.at + offset, now=NOW)


def test_a_planned_date_from_yesterday_to_the_horizon_is_accepted() -> None:
    today = NOW.at.date()
    for day in (today - timedelta(days=1), (NOW.at + HORIZON).date() + timedelta(days=1)):
        assert plan_item(planned_publish_date=day).planned_publish_date == day


@pytest.mark.parametrize("days", [-2, 3650 + 2, -365 * 1000])
def test_a_planned_date_in_the_past_or_beyond_the_horizon_is_refused(days: int) -> None:
    with pytest.raises(errors.OutsidePlanningHorizon, match="planned publication date"):
        plan_item(planned_publish_date=NOW.at.date() + timedelta(days=days))


def test_the_planning_horizon_is_the_one_given() -> None:
    short = Now(NOW.at, planning_horizon=timedelta(days=1))
    item = approved()
    with refused(item, errors.OutsidePlanningHorizon, "1 days ahead"):
        item.schedule_publication(platform="wechat", at=NOW.at + timedelta(days=1, seconds=1), now=short)


# --- a schedule names its revision; a new draft voids it ------------------------------------


def test_a_schedule_names_the_revision_it_was_made_for() -> None:
    item = approved()
    item.schedule_publication(platform="wechat", at=SCHEDULED, now=NOW)
    assert only_event(item, "Scheduled").revision == 1
    assert item.scheduled_revision == 1


def test_a_new_draft_voids_the_schedule_and_a_new_approval_does_not_bring_it_back() -> None:
    item = approved()
    item.schedule_publication(platform="wechat", at=SCHEDULED, now=NOW)
    draft(item, body="Revised.")
    assert (item.schedule, item.scheduled_revision) == ({}, None)
    item.request_review(revision=2)
    for stage in SEED_CHAIN:
        approve(item, stage)
    assert (item.approved_revision, item.schedule) == (2, {})


def test_a_schedule_recorded_before_it_named_its_revision_replays_as_the_approved_ones() -> None:
    events = approved_history()
    item = replay(events)
    item.schedule_publication(platform="wechat", at=SCHEDULED, now=NOW)
    scheduled = item.collect_events()[-1]
    # As the store reads an event stored before the field existed (eventsourcing's mapper).
    stored = object.__new__(type(scheduled))
    object.__setattr__(stored, "__dict__", {k: v for k, v in vars(scheduled).items() if k != "revision"})
    replayed = replay([*events, stored])
    assert (replayed.schedule, replayed.scheduled_revision) == ({"wechat": SCHEDULED}, 1)


# --- one order of checks: a closed item answers item-closed to every command ----------------

COMMANDS: dict[str, Callable[[ContentItem], Any]] = {
    "draft": draft,
    "request_review": lambda item: item.request_review(revision=None),
    "approve": lambda item: approve(item, Stage.EDITOR),
    "request_changes": lambda item: item.request_changes(
        stage=Stage.EDITOR, revision=None, reasons=["x"], reviewer_id="eve"
    ),
    "schedule": lambda item: item.schedule_publication(platform="wechat", at=SCHEDULED, now=NOW),
    "publish": lambda item: publish(item, "wechat"),
    "metrics of an unpublished platform": lambda item: metrics(item, {"likes": 1}, platform="wechat"),
    "withdraw": lambda item: item.withdraw(reason="x"),
    "cancel": lambda item: item.cancel(reason="x"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("closed", [cancelled, withdrawn], ids=["cancelled", "withdrawn"])
def test_every_command_on_a_closed_item_answers_item_closed(
    closed: Callable[[], ContentItem], command: str
) -> None:
    item = closed()
    with refused(item, errors.ItemClosed, str(item.state)):
        COMMANDS[command](item)


def test_metrics_of_a_platform_published_on_are_still_recorded_after_withdrawal() -> None:
    item = withdrawn()
    assert metrics(item, {"likes": 1}, at=AT + timedelta(hours=1)) is True


def test_segregation_of_duties_is_checked_before_the_revision_named() -> None:
    item = in_review(Stage.EDITOR)
    with refused(item, errors.SelfApproval):
        approve(item, Stage.EDITOR, reviewer="ann", revision=7)


# --- counter corrections: accepted, and recorded as such ------------------------------------


def test_a_counter_lower_than_the_observation_before_is_recorded_as_a_correction() -> None:
    item = published()
    metrics(item, {"likes": 120, "views": 900}, at=AT + timedelta(hours=1))
    item.collect_events()
    assert metrics(item, {"likes": 100, "views": 950}, at=AT + timedelta(hours=2)) is True
    event = only_event(item, "MetricsRecorded")
    assert (event.counters, event.corrections) == ({"likes": 100, "views": 950}, {"likes": 120})


def test_a_correction_compares_with_the_latest_earlier_report_of_each_counter() -> None:
    item = published()
    metrics(item, {"likes": 50}, at=AT + timedelta(hours=1))
    metrics(item, {"views": 10}, at=AT + timedelta(hours=3))  # no likes: the 50 still stands
    item.collect_events()
    metrics(item, {"likes": 40, "views": 5}, at=AT + timedelta(hours=2))  # late: compared with hour 1
    assert only_event(item, "MetricsRecorded").corrections == {"likes": 50}


def test_no_correction_when_counters_grow_or_stay() -> None:
    item = published()
    metrics(item, {"likes": 5}, at=AT + timedelta(hours=1))
    item.collect_events()
    metrics(item, {"likes": 5}, at=AT + timedelta(hours=2))
    assert only_event(item, "MetricsRecorded").corrections == {}


def test_a_counter_of_zero_is_accepted_and_kept() -> None:
    item = published()
    assert metrics(item, {"likes": 0, "views": 0}, at=AT) is True
    assert item.observations["weibo"] == {AT.isoformat(): {"likes": 0, "views": 0}}


def test_a_counter_down_to_zero_is_a_correction() -> None:
    item = published()
    metrics(item, {"likes": 1}, at=AT)
    item.collect_events()
    metrics(item, {"likes": 0}, at=AT + timedelta(minutes=1))
    assert only_event(item, "MetricsRecorded").corrections == {"likes": 1}


# --- values pinned away from ASCII and UTC --------------------------------------------------

CHINESE = {
    "title": "春季新品发布",
    "body": "今天我们发布 X200：续航提升 30%。",
    "asset_links": [],
    "source_notes": "产品团队规格表 v3",
}
# The canonical JSON, spelled out: sorted keys, no spaces, UTF-8 (not \\u escapes).
CHINESE_CANONICAL = (
    '{"asset_links":[],"body":"今天我们发布 X200：续航提升 30%。",'
    '"source_notes":"产品团队规格表 v3","title":"春季新品发布"}'
)
CHINESE_HASH = "sha256:746f2332188258e4d342d2eed5ed022b21f79a4264328cdcc1ee33f6d65217df"


def test_the_content_hash_of_a_chinese_revision_is_pinned() -> None:
    assert "sha256:" + hashlib.sha256(CHINESE_CANONICAL.encode("utf-8")).hexdigest() == CHINESE_HASH
    assert content_hash(**CHINESE) == CHINESE_HASH  # type: ignore[arg-type]


def test_the_publication_url_is_kept() -> None:
    item = published()
    assert item.publications["weibo"]["url"] == "https://weibo.example/p/123"


@pytest.mark.usefixtures("machine_time_zone")
@pytest.mark.parametrize(
    ("written", "in_utc"),
    [
        (datetime(2026, 1, 1, 7, 59, tzinfo=timezone(timedelta(hours=8))), datetime(2025, 12, 31, 23, 59)),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 1, 1, 0, 0)),
        (datetime(2025, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))), datetime(2026, 1, 1, 1, 0)),
    ],
)
def test_times_convert_to_utc_whatever_the_machine_zone(written: datetime, in_utc: datetime) -> None:
    converted = as_utc(written, "time")
    assert (converted.replace(tzinfo=None), converted.utcoffset()) == (in_utc, timedelta(0))


@pytest.mark.usefixtures("machine_time_zone")
def test_the_planned_date_window_follows_utc_not_the_machine_zone() -> None:
    # 23:30 UTC on 1 March is already 2 March in Shanghai: "yesterday" is still 28 February.
    now = Now(datetime(2027, 3, 1, 23, 30, tzinfo=UTC))
    now.check_planned_date(date(2027, 2, 28), "planned publication date")
    with pytest.raises(errors.OutsidePlanningHorizon):
        now.check_planned_date(date(2027, 2, 27), "planned publication date")
