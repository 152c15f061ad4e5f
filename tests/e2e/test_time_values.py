"""Time values over HTTP, on both databases: RFC 3339 text only, believable for the policy,
stored and read back exactly whatever the year and the machine's zone; schedules tied to
their revision; closed items; counter corrections; values pinned away from ASCII."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.e2e.api import DRAFT, OBSERVED_AT, PLAN, PUBLISHED_AT, SCHEDULED_AT, Api, app_clock, at
from tests.e2e.test_errors import _assert_problem
from tests.e2e.test_reads import _wait
from tests.unit.test_item_rules import CHINESE, CHINESE_HASH

NUMERIC = ["1700000000", "1700000000.5", "20270301", 1700000000]


def _head(api: Api) -> int:
    head: int = api.client.app.state.store.head()  # type: ignore[attr-defined]
    return head


def _publication(content_hash: str, **changes: Any) -> dict[str, Any]:
    return {
        "platform": "wechat", "published_at": PUBLISHED_AT, "external_id": "wx-1",
        "url": "https://mp.weixin.qq.com/s/abc", "revision": 1, "content_hash": content_hash, **changes,
    }  # fmt: skip


def _observation(**changes: Any) -> dict[str, Any]:
    return {"platform": "wechat", "observed_at": OBSERVED_AT, "counters": {"likes": 3}, **changes}


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- RFC 3339 text only, in one shared type ---------------------------------------------------


@pytest.mark.parametrize("moment", [*NUMERIC, "2027-03-01T09:00+08:00", "2027-03-01", "next tuesday"])
def test_a_time_that_is_not_rfc_3339_text_is_refused_in_every_body(api: Api, moment: object) -> None:
    item, content_hash = api.approved()
    published = api.published()
    assert api.analyst  # keys are events too: created before the head is taken
    head = _head(api)
    for path, body, field in [
        (f"/items/{item}/schedule", {"platform": "wechat", "at": moment}, "body.at"),
        (f"/items/{item}/publications", _publication(content_hash, published_at=moment), "body.published_at"),
        (f"/items/{published}/metrics", _observation(observed_at=moment), "body.observed_at"),
    ]:
        key = api.analyst if path.endswith("metrics") else api.marketing
        problem = _assert_problem(api.post(path, body, key), 422, "/problems/validation-error")
        assert problem["errors"][0]["field"] == field  # type: ignore[index]
        assert "RFC 3339" in problem["errors"][0]["message"]  # type: ignore[index]
    assert _head(api) == head


@pytest.mark.parametrize("day", [*NUMERIC, "2027-3-1", "2027-03-01T00:00:00Z"])
def test_a_planned_date_that_is_not_iso_date_text_is_refused(api: Api, day: object) -> None:
    response = api.post("/items", {**PLAN, "planned_publish_date": day}, api.marketing)
    problem = _assert_problem(response, 422, "/problems/validation-error")
    assert problem["errors"][0]["field"] == "body.planned_publish_date"  # type: ignore[index]


@pytest.mark.parametrize("moment", ["1700000000", "1700000000.0", "2027-03-01"])
def test_a_time_query_that_is_not_rfc_3339_text_is_refused(api: Api, moment: str) -> None:
    item = api.planned()
    auditor = api.key("aud", "auditor", "audit")
    for path, params, key in [
        (f"/items/{item}", {"as_of": moment}, api.marketing),
        ("/audit-trail", {"from": moment}, auditor),
        ("/audit-trail", {"to": moment}, auditor),
    ]:
        response = api.client.get(path, params=params, headers=_auth(key))
        _assert_problem(response, 422, "/problems/validation-error")


def test_a_leap_second_is_refused_in_bodies_and_queries_saying_so(api: Api) -> None:
    """No second 60 exists in Python's or the databases' times: a clear 422, never a 500."""
    item, content_hash = api.approved()
    auditor = api.key("aud", "auditor", "audit")
    leap = "2016-12-31T23:59:60Z"
    head = _head(api)
    body = _publication(content_hash, published_at=leap)
    answers = [
        api.post(f"/items/{item}/publications", body, api.marketing),
        api.client.get(f"/items/{item}", params={"as_of": leap}, headers=_auth(auditor)),
        api.client.get("/audit-trail", params={"from": leap}, headers=_auth(auditor)),
    ]
    for response in answers:
        problem = _assert_problem(response, 422, "/problems/validation-error")
        assert "leap second" in problem["errors"][0]["message"]  # type: ignore[index]
    assert _head(api) == head


# --- every year reads back and compares correctly ---------------------------------------------


def test_audit_trail_bounds_before_the_year_1000_compare_as_times(api: Api) -> None:
    item = api.planned()
    auditor = api.key("aud", "auditor", "audit")
    waiting = _auth(auditor) | {"Wait-For-Position": str(_head(api))}
    since_antiquity = api.client.get(
        "/audit-trail", params={"from": "0500-01-01T00:00:00Z", "aggregate_id": item}, headers=waiting
    )
    assert [e["event_type"] for e in since_antiquity.json()["items"]] == ["Planned"]
    until_antiquity = api.client.get("/audit-trail", params={"to": "0999-06-01T00:00:00Z"}, headers=waiting)
    assert until_antiquity.json()["items"] == []
    as_of = api.client.get(f"/items/{item}", params={"as_of": "0001-01-01T00:00:00Z"}, headers=_auth(auditor))
    _assert_problem(as_of, 404, "/problems/no-such-version")  # a time before the item (ADR 0029)


# --- times must make sense for the policy -------------------------------------------------------


def test_a_publication_in_the_future_is_refused_and_writes_nothing(api: Api) -> None:
    item, content_hash = api.approved()
    head = _head(api)
    future = (app_clock() + timedelta(minutes=10)).isoformat()
    response = api.post(f"/items/{item}/publications", _publication(content_hash, published_at=future),
                        api.marketing)  # fmt: skip
    assert "in the future" in str(_assert_problem(response, 422, "/problems/time-in-the-future")["detail"])
    assert _head(api) == head


def test_the_clock_skew_is_a_setting(app_factory: Any) -> None:
    now = app_clock().replace(microsecond=0)  # fixed: the app's present stands still
    api: Api = app_factory(clock=lambda: now, clock_skew_seconds=0)
    item, content_hash = api.approved()
    ahead = _publication(content_hash, published_at=(now + timedelta(seconds=1)).isoformat())
    _assert_problem(api.post(f"/items/{item}/publications", ahead, api.marketing), 422,
                    "/problems/time-in-the-future")  # fmt: skip
    in_beijing = now.astimezone(timezone(timedelta(hours=8))).isoformat()
    exact = _publication(content_hash, published_at=in_beijing)
    assert api.post(f"/items/{item}/publications", exact, api.marketing).status_code == 200


def test_a_publication_before_its_approval_is_refused(api: Api) -> None:
    item, content_hash = api.approved()
    before = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = api.post(f"/items/{item}/publications", _publication(content_hash, published_at=before),
                        api.marketing)  # fmt: skip
    _assert_problem(response, 422, "/problems/published-before-approval")


def test_a_far_future_observation_is_refused_and_cannot_become_the_latest(api: Api) -> None:
    item = api.published()
    response = api.post(
        f"/items/{item}/metrics", _observation(observed_at="2999-01-01T00:00:00Z"), api.analyst
    )
    _assert_problem(response, 422, "/problems/time-in-the-future")
    assert api.get(f"/items/{item}", api.analyst).json()["latest_metrics"] == {}


@pytest.mark.parametrize("moment", ["1970-01-01T00:00:00Z", at(-1), "9000-01-01T00:00:00Z"])
def test_a_schedule_in_the_past_or_beyond_the_horizon_is_refused(api: Api, moment: str) -> None:
    item, _ = api.approved()
    response = api.post(f"/items/{item}/schedule", {"platform": "wechat", "at": moment}, api.marketing)
    _assert_problem(response, 422, "/problems/outside-planning-horizon")


def test_the_planning_horizon_is_a_setting(app_factory: Any) -> None:
    api: Api = app_factory(planning_horizon_days=40)
    within = api.post("/items", PLAN, api.marketing)  # planned 30 days after BASE
    assert within.status_code == 201, within.text
    far = (app_clock() + timedelta(days=45)).date().isoformat()
    response = api.post("/items", {**PLAN, "planned_publish_date": far}, api.marketing)
    _assert_problem(response, 422, "/problems/outside-planning-horizon")


def test_a_planned_date_in_the_past_is_refused(api: Api) -> None:
    response = api.post("/items", {**PLAN, "planned_publish_date": "2020-01-01"}, api.marketing)
    _assert_problem(response, 422, "/problems/outside-planning-horizon")


# --- decisions tied to their revision -----------------------------------------------------------


def test_a_new_draft_voids_the_schedule_made_for_the_approved_revision(api: Api) -> None:
    item, _ = api.approved()
    scheduled = api.post(f"/items/{item}/schedule", {"platform": "wechat", "at": SCHEDULED_AT}, api.marketing)
    assert (scheduled.json()["schedule"], scheduled.json()["scheduled_revision"]) == ({"wechat": at(30)}, 1)
    redrafted = api.post(f"/items/{item}/drafts", {**DRAFT, "body": "Revised."}, api.marketing).json()
    assert (redrafted["schedule"], redrafted["scheduled_revision"]) == ({}, None)
    api.post(f"/items/{item}/review-requests", {}, api.marketing)
    for stage in ("editor", "department_head", "legal"):
        body = api.post(
            f"/items/{item}/approvals", {"stage": stage, "revision": 2}, api.reviewer(stage)
        ).json()
    assert (body["approved_revision"], body["schedule"]) == (2, {})


# --- one order of checks: a closed item answers item-closed ----------------------------------


def _commands(api: Api, item: str, content_hash: str) -> list[tuple[str, dict[str, Any], str]]:
    return [
        ("drafts", DRAFT, api.marketing),
        ("review-requests", {}, api.marketing),
        ("approvals", {"stage": "editor", "revision": 1}, api.reviewer("editor")),
        ("change-requests", {"stage": "editor", "revision": 1, "reasons": ["x"]}, api.reviewer("editor")),
        ("schedule", {"platform": "weibo", "at": SCHEDULED_AT}, api.marketing),
        ("publications", _publication(content_hash, platform="weibo"), api.marketing),
        ("metrics", _observation(platform="weibo"), api.analyst),
        ("withdrawal", {"reason": "x"}, api.marketing),
        ("cancellation", {"reason": "x"}, api.marketing),
    ]


@pytest.mark.parametrize("closing", ["cancellation", "withdrawal"])
def test_every_command_on_a_closed_item_answers_item_closed(api: Api, closing: str) -> None:
    if closing == "withdrawal":
        item = api.published()
        content_hash = api.get(f"/items/{item}", api.marketing).json()["current_revision"]["content_hash"]
    else:
        item, content_hash = api.approved()
    assert api.post(f"/items/{item}/{closing}", {"reason": "closed"}, api.marketing).status_code == 200
    commands = _commands(api, item, content_hash)  # creates the keys (events) before the head is taken
    head = _head(api)
    for path, body, key in commands:
        if closing == "withdrawal" and path == "withdrawal":
            continue  # covered below with the other final state
        response = api.post(f"/items/{item}/{path}", body, key)
        _assert_problem(response, 409, "/problems/item-closed")
    assert _head(api) == head


def test_metrics_of_a_platform_published_on_are_recorded_after_withdrawal(api: Api) -> None:
    item = api.published()
    api.post(f"/items/{item}/withdrawal", {"reason": "recall"}, api.marketing)
    assert api.post(f"/items/{item}/metrics", _observation(), api.analyst).status_code == 200
    again = api.post(f"/items/{item}/withdrawal", {"reason": "again"}, api.marketing)
    _assert_problem(again, 409, "/problems/item-closed")


# --- counter corrections -------------------------------------------------------------------------


def test_a_counter_that_goes_down_is_accepted_as_a_correction_and_shown(api: Api) -> None:
    item = api.published()
    first = api.post(f"/items/{item}/metrics", _observation(counters={"likes": 120, "views": 0}), api.analyst)
    assert first.json()["latest_metrics"]["wechat"]["corrections"] == {}
    lower = _observation(observed_at=at(2), counters={"likes": 100, "views": 7})
    corrected = api.post(f"/items/{item}/metrics", lower, api.analyst)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["latest_metrics"]["wechat"] == {
        "observed_at": at(2), "counters": {"likes": 100, "views": 7}, "corrections": {"likes": 120},
    }  # fmt: skip
    metrics = api.get(f"/items/{item}/metrics", api.analyst, **_wait(corrected)).json()
    assert [(h["likes"], h["views"], h["corrected"]) for h in metrics["history"]] == [
        (120, 0, None),  # a counter of 0 is a value, not a missing one
        (100, 7, {"likes": 120}),
    ]
    (event,) = [e for e in api.get(f"/items/{item}/history", api.analyst).json() if e["version"] == 9]
    assert event["data"]["corrections"] == {"likes": 120}


# --- values users rely on, away from ASCII and from UTC -------------------------------------------


def test_the_content_hash_of_a_chinese_revision_is_pinned(api: Api) -> None:
    item = api.planned()
    drafted = api.post(f"/items/{item}/drafts", CHINESE, api.marketing).json()
    assert drafted["current_revision"]["content_hash"] == CHINESE_HASH
    assert drafted["current_revision"]["title"] == CHINESE["title"]


def test_the_publication_url_is_kept_in_the_item_view(api: Api) -> None:
    item, content_hash = api.approved()
    api.post(f"/items/{item}/publications", _publication(content_hash), api.marketing)
    (publication,) = api.get(f"/items/{item}", api.marketing).json()["publications"]
    assert publication["url"] == "https://mp.weixin.qq.com/s/abc"


@pytest.mark.usefixtures("machine_time_zone")
def test_times_read_back_in_utc_whatever_the_machine_zone(api: Api) -> None:
    item = api.published()  # at PUBLISHED_AT, written as Beijing time
    measured = api.post(f"/items/{item}/metrics", _observation(observed_at=at(1, zone=-5)), api.analyst)
    view = api.get(f"/items/{item}", api.marketing).json()
    assert view["publications"][0]["published_at"] == at()
    assert view["latest_metrics"]["wechat"]["observed_at"] == at(1)
    (row,) = api.get(f"/publications?item_id={item}", api.marketing, **_wait(measured)).json()["items"]
    assert row["published_at"] == at()
    (history,) = api.get(f"/items/{item}/metrics", api.analyst, **_wait(measured)).json()["history"]
    assert history["observed_at"] == at(1)


def test_counters_at_their_bounds_are_projected_and_beyond_them_refused(api: Api) -> None:
    item = api.published()
    edges = _observation(counters={"impressions": 10**15, "likes": 0, "clicks": 1})
    measured = api.post(f"/items/{item}/metrics", edges, api.analyst)
    assert measured.status_code == 200, measured.text
    (latest,) = api.get(f"/items/{item}/metrics", api.analyst, **_wait(measured)).json()["latest"]
    assert (latest["impressions"], latest["likes"], latest["clicks"]) == (10**15, 0, 1)
    assert latest["interaction_rate"] == 0.0  # 0 likes is a rate of 0, not an unknown one
    beyond = _observation(observed_at=at(2), counters={"impressions": 10**15 + 1})
    _assert_problem(
        api.post(f"/items/{item}/metrics", beyond, api.analyst), 422, "/problems/validation-error"
    )


def test_a_time_keeps_its_microseconds_through_every_read(api: Api) -> None:
    item, content_hash = api.approved()
    precise = at(seconds=0.000001, zone=8)
    published = api.post(f"/items/{item}/publications", _publication(content_hash, published_at=precise),
                         api.marketing)  # fmt: skip
    assert published.json()["publications"][0]["published_at"] == at(seconds=0.000001)
    (row,) = api.get(f"/publications?item_id={item}", api.marketing, **_wait(published)).json()["items"]
    assert row["published_at"] == at(seconds=0.000001)
