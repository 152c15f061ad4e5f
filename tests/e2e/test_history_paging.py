"""`GET /{collection}/{id}/history` pages and `?version=` / `?as_of=` on every collection (ADR 0029)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nm_workflow.domain.roles import Role
from tests.e2e.api import DRAFT, OBSERVED_AT, Api


def test_following_the_next_links_gives_every_event_exactly_once(api: Api) -> None:
    item, mia = api.drafted(), api.marketing
    for n in range(5):
        assert api.post(f"/items/{item}/drafts", {**DRAFT, "title": f"Take {n}"}, mia).status_code == 200
    seen, url, pages = [], f"/items/{item}/history?limit=3", 0
    while url:
        page = api.get(url, mia)
        assert page.status_code == 200, page.text
        assert page.headers["ETag"] == '"7"'  # the item's version, on every page
        seen += [event["version"] for event in page.json()]
        url, pages = page.links.get("next", {}).get("url"), pages + 1
    assert (seen, pages) == ([1, 2, 3, 4, 5, 6, 7], 3)
    whole = api.get(f"/items/{item}/history", mia)
    assert [e["version"] for e in whole.json()] == seen
    assert "Link" not in whole.headers
    assert whole.json()[1]["metadata"]["actor_id"] == "mia"
    assert api.get(f"/items/{item}/history?after=7", mia).json() == []


def test_a_cursor_or_a_version_beyond_the_history_is_a_problem(api: Api) -> None:
    item, mia = api.drafted(), api.marketing
    beyond = api.get(f"/items/{item}/history?after=3", mia)
    assert (beyond.status_code, beyond.json()["type"]) == (422, "/problems/history-cursor-out-of-range")
    assert api.get(f"/items/{item}/history?limit=0", mia).json()["type"] == "/problems/validation-error"
    for query in ("version=3", "as_of=2001-01-01T00:00:00Z"):
        answer = api.get(f"/items/{item}?{query}", mia)
        assert (answer.status_code, answer.json()["type"]) == (404, "/problems/no-such-version"), query


def test_every_collection_reads_a_past_version_and_its_history_with_its_own_roles(api: Api) -> None:
    mia = api.marketing
    account = api.post(
        "/channel-accounts", {"platform": "weibo", "account_id": "a-1", "account_name": "A"}, mia
    ).json()["id"]
    followers = {"observed_at": OBSERVED_AT, "followers": 5}
    assert api.post(f"/channel-accounts/{account}/followers", followers, api.analyst).status_code == 200
    created = api.get(f"/channel-accounts/{account}?version=1", mia)
    assert (created.headers["ETag"], created.json()["version"]) == ('"1"', 1)
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert api.get(f"/channel-accounts/{account}?as_of={later}", mia).json()["version"] == 2

    manager = api.key("olga", Role.MANAGEMENT, "management")
    quarter = {"kind": "quarterly_evaluation", "quarter": "2026Q3"}
    evaluation = api.post("/evaluations", quarter, manager).json()["id"]
    assert api.get(f"/evaluations/{evaluation}/history", manager).json()[0]["type"] == "Opened"
    assert api.get(f"/evaluations/{evaluation}?version=1", manager).status_code == 200
    refused = api.get(f"/evaluations/{evaluation}/history", mia)  # marketing may not read evaluations
    assert refused.status_code == 403
