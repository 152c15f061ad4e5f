"""A content item through the whole policy over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.e2e.api import DRAFT, OBSERVED_AT, PUBLISHED_AT, SCHEDULED_AT, Api, at


def test_item_goes_from_plan_to_metrics_with_three_reviewers(api: Api) -> None:
    item, content_hash = api.approved()
    state = api.get(f"/items/{item}", api.marketing).json()
    assert state["state"] == "approved"
    assert state["approvals"] == {
        "editor": "editor-reviewer",
        "department_head": "department_head-reviewer",
        "legal": "legal-reviewer",
    }
    publication = {
        "platform": "wechat",
        "published_at": PUBLISHED_AT,
        "external_id": "wx-1",
        "url": "https://mp.example/s/1",
        "revision": 1,
        "content_hash": content_hash,
    }
    published = api.post(f"/items/{item}/publications", publication, api.marketing)
    assert published.status_code == 200
    assert published.json()["state"] == "published"
    observation = {
        "platform": "wechat",
        "observed_at": OBSERVED_AT,
        "counters": {"impressions": 1000, "likes": 10, "clicks": 50},
    }
    measured = api.post(f"/items/{item}/metrics", observation, api.analyst)
    assert measured.status_code == 200
    assert measured.json()["latest_metrics"]["wechat"]["counters"]["clicks"] == 50
    history = api.get(f"/items/{item}/history", api.marketing).json()
    assert [e["type"] for e in history] == [
        "Planned",
        "Drafted",
        "ReviewRequested",
        "EditoriallyApproved",
        "DepartmentHeadApproved",
        "LegallyApproved",
        "Published",
        "MetricsRecorded",
    ]


def test_every_event_records_who_in_which_role_and_why(api: Api) -> None:
    item = api.planned()
    api.post(
        f"/items/{item}/drafts", DRAFT, api.marketing, idempotency_key="draft-1", x_correlation_id="launch-7"
    )
    drafted = api.get(f"/items/{item}/history", api.marketing).json()[-1]
    assert drafted["metadata"] == {
        "actor_id": "mia",
        "role": "marketing",
        "department": "marketing",
        "correlation_id": "launch-7",
        "causation_id": "draft-1",
        "policy_version": 1,
    }
    assert drafted["recorded_at"].endswith("Z")
    assert drafted["data"]["author_id"] == "mia"


def test_etag_is_the_version_and_past_versions_can_be_read(api: Api) -> None:
    item = api.drafted()
    current = api.get(f"/items/{item}", api.marketing)
    assert current.headers["ETag"] == '"2"'
    first = api.get(f"/items/{item}?version=1", api.marketing).json()
    assert first["state"] == "planned"
    assert first["current_revision"] is None
    assert api.get(f"/items/{item}?version=9", api.marketing).status_code == 404


def test_state_as_of_a_time(api: Api) -> None:
    item = api.drafted()
    history = api.get(f"/items/{item}/history", api.marketing).json()
    planned_at = history[0]["recorded_at"]
    as_of = api.client.get(
        f"/items/{item}", params={"as_of": planned_at}, headers={"Authorization": f"Bearer {api.marketing}"}
    )
    assert as_of.json()["version"] == 1
    before = api.client.get(
        f"/items/{item}",
        params={"as_of": "2000-01-01T00:00:00Z"},
        headers={"Authorization": f"Bearer {api.marketing}"},
    )
    assert before.status_code == 404


def test_changes_requested_send_the_item_back_and_a_new_revision_restarts_review(api: Api) -> None:
    item = api.in_review("legal")
    sent_back = api.post(
        f"/items/{item}/change-requests",
        {"stage": "legal", "revision": 1, "reasons": ["cite the source"]},
        api.reviewer("legal"),
    )
    assert sent_back.json()["state"] == "drafting"
    assert sent_back.json()["approvals"] == {}
    revised = api.post(f"/items/{item}/drafts", {**DRAFT, "body": "Sourced."}, api.marketing).json()
    assert revised["current_revision"]["number"] == 2
    again = api.post(f"/items/{item}/review-requests", {"revision": 2}, api.marketing).json()
    assert again["review_stage"] == "editor"


def test_only_the_approved_content_is_published_once_per_planned_platform(api: Api) -> None:
    item, content_hash = api.approved()
    publication = {
        "platform": "wechat",
        "published_at": at(),
        "external_id": "wx-1",
        "revision": 1,
        "content_hash": content_hash,
    }
    wrong_hash = {**publication, "content_hash": "sha256:" + "0" * 64}
    assert api.post(f"/items/{item}/publications", wrong_hash, api.marketing).status_code == 422
    unplanned = {**publication, "platform": "douyin"}
    assert api.post(f"/items/{item}/publications", unplanned, api.marketing).json()["type"] == (
        "/problems/platform-not-planned"
    )
    assert api.post(f"/items/{item}/publications", publication, api.marketing).status_code == 200
    twice = api.post(f"/items/{item}/publications", publication, api.marketing)
    assert (twice.status_code, twice.json()["type"]) == (409, "/problems/already-published")
    weibo = {**publication, "platform": "weibo"}
    assert api.post(f"/items/{item}/publications", weibo, api.marketing).status_code == 200


def test_repeating_an_observation_changes_nothing(api: Api) -> None:
    item = api.published()
    observation = {"platform": "wechat", "observed_at": OBSERVED_AT, "counters": {"likes": 3}}
    first = api.post(f"/items/{item}/metrics", observation, api.analyst)
    again = api.post(f"/items/{item}/metrics", observation, api.analyst)
    assert again.status_code == 200
    assert again.headers["ETag"] == first.headers["ETag"]
    conflicting = {**observation, "counters": {"likes": 4}}
    assert api.post(f"/items/{item}/metrics", conflicting, api.analyst).json()["type"] == (
        "/problems/conflicting-observation"
    )


def test_withdrawal_and_cancellation_are_final(api: Api) -> None:
    published = api.published()
    assert api.post(f"/items/{published}/withdrawal", {"reason": "recall"}, api.marketing).status_code == 200
    after = api.post(f"/items/{published}/drafts", DRAFT, api.marketing)
    assert (after.status_code, after.json()["type"]) == (409, "/problems/item-closed")
    planned = api.planned()
    cancelled = api.post(f"/items/{planned}/cancellation", {"reason": "dropped"}, api.marketing)
    assert cancelled.json()["state"] == "cancelled"
    cannot = api.post(f"/items/{published}/cancellation", {"reason": "x"}, api.marketing)
    assert cannot.status_code == 409


def test_schedule_is_recorded(api: Api) -> None:
    item, _ = api.approved()
    scheduled = api.post(
        f"/items/{item}/schedule", {"platform": "weibo", "at": SCHEDULED_AT}, api.marketing
    ).json()
    assert scheduled["schedule"] == {"weibo": at(30)}
