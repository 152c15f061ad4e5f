"""Reads from the projection tables over HTTP: read-your-writes, queues, paging."""

from __future__ import annotations

from collections.abc import Callable

from nm_workflow.domain.roles import Role
from tests.e2e.api import DRAFT, OBSERVED_AT, PLAN, Api


def _wait(response: object) -> dict[str, str]:
    return {"wait_for_position": response.headers["Log-Position"]}  # type: ignore[attr-defined]


def test_a_command_then_a_waiting_read_sees_its_own_effect_every_time(api: Api) -> None:
    for n in range(25):
        planned = api.post("/items", {**PLAN, "campaign": f"c{n}"}, api.marketing)
        listed = api.get(f"/items?campaign=c{n}", api.marketing, **_wait(planned))
        assert "Projection-Stale" not in listed.headers
        assert int(listed.headers["Projection-Position"]) >= int(planned.headers["Log-Position"])
        assert [row["item_id"] for row in listed.json()["items"]] == [planned.json()["id"]]


def test_the_review_queue_follows_the_chain_for_each_reviewer(api: Api) -> None:
    item = api.drafted()
    requested = api.post(f"/items/{item}/review-requests", {}, api.marketing)
    editors = api.get("/queues/review", api.reviewer("editor"), **_wait(requested)).json()
    assert [(e["item_id"], e["stage"], e["role"]) for e in editors] == [(item, "editor", "editor")]
    assert editors[0]["overdue"] is False
    approved = api.approve(item, "editor")
    assert api.get("/queues/review", api.reviewer("editor"), **_wait(approved)).json() == []
    heads = api.get("/queues/review", api.reviewer("department_head"), **_wait(approved)).json()
    assert [e["stage"] for e in heads] == ["department_head"]
    elsewhere = api.get("/queues/review?department=product", api.reviewer("department_head"))
    assert elsewhere.json() == []


def test_publications_metrics_and_the_audit_trail(api: Api) -> None:
    item = api.published()
    observation = {
        "platform": "wechat",
        "observed_at": OBSERVED_AT,
        "counters": {
            "impressions": 1000,
            "likes": 40,
            "comments": 5,
            "shares": 3,
            "saves": 2,
            "clicks": 100,
            "conversions": 7,
        },
    }
    measured = api.post(f"/items/{item}/metrics", observation, api.analyst)
    wait = _wait(measured)
    publications = api.get(f"/publications?item_id={item}", api.marketing, **wait).json()["items"]
    assert [(p["platform"], p["revision"]) for p in publications] == [("wechat", 1)]
    metrics = api.get(f"/items/{item}/metrics", api.analyst, **wait).json()
    latest = metrics["latest"][0]
    assert latest["interaction_rate"] == 0.05
    assert latest["conversion_rate"] == 0.07
    auditor = api.key("ada", Role.AUDITOR, "audit")
    trail = api.get(f"/audit-trail?aggregate_id={item}", auditor, **wait).json()["items"]
    assert [e["event_type"] for e in trail][-1] == "MetricsRecorded"
    assert trail[-1]["actor_id"] == "dan"
    assert api.get("/audit-trail", api.marketing).status_code == 403


def test_lists_are_paged_with_cursors(api: Api) -> None:
    made = [api.post("/items", {**PLAN, "campaign": "paged"}, api.marketing) for _ in range(5)]
    seen, cursor, wait = [], None, _wait(made[-1])
    while True:
        query = "/items?campaign=paged&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(query, api.marketing, **wait).json()
        seen += [row["item_id"] for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [m.json()["id"] for m in reversed(made)]
    bad = api.get("/items?cursor=not-a-cursor", api.marketing)
    assert (bad.status_code, bad.json()["type"]) == (422, "/problems/invalid-cursor")


def test_a_read_says_when_it_timed_out_waiting(app_factory: Callable[..., Api]) -> None:
    api = app_factory(embedded_projections=False)  # nobody runs the projections
    planned = api.post("/items", PLAN, api.marketing)
    listed = api.get("/items", api.marketing, wait_timeout="0.3", **_wait(planned))
    assert listed.status_code == 200
    assert listed.headers["Projection-Stale"] == "true"
    beyond = api.get("/items", api.marketing, wait_for_position="999999")
    assert (beyond.status_code, beyond.json()["type"]) == (422, "/problems/invalid-query")


def test_a_draft_shows_in_the_item_list(api: Api) -> None:
    item = api.planned()
    drafted = api.post(f"/items/{item}/drafts", DRAFT, api.marketing)
    rows = api.get("/items", api.marketing, **_wait(drafted)).json()["items"]
    assert [(r["state"], r["revision"]) for r in rows if r["item_id"] == item] == [("drafting", 1)]
