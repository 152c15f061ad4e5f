"""The longest and oddest value every stored field accepts goes through every projection.

Each text field gets its longest accepted value, mixing Chinese, emoji, combining marks,
right-to-left text, quotes, backslashes and SQL's own wildcards; counters their largest;
the platform its longest name. Sent over HTTP (what the API accepts), on both databases,
then read back from every projection's reads and tables, unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

from nm_workflow.domain.roles import Role
from tests.e2e.api import OBSERVED_AT, PLANNED_DATE, PUBLISHED_AT, SCHEDULED_AT, Api
from tests.e2e.test_reads import _wait
from tests.projections.scenario import snapshot
from tests.support import verifier

# Chinese, emoji, a combining mark, Hebrew (right to left), quotes, a backslash, SQL's wildcards.
MIX = "李小龍🎬e\u0301\u05e9\u05dc\u05d5\u05dd\"'`\\%_;-- "


def odd(length: int, lead: str = "") -> str:
    """Exactly `length` characters (code points), not starting or ending with a space."""
    text = (lead + MIX * (length // len(MIX) + 1))[:length]
    return text[:-1] + "末" if text.endswith(" ") else text


SHORT, MEDIUM, LONG, BODY = 200, 2000, 5000, 200_000
PLATFORM = "w" + "e_.-9" * 9 + "zzzz"  # 50 characters, the longest platform name
BIG = 10**15  # the largest counter
DEPARTMENT = odd(SHORT, "部门")
ROLES = (Role.MARKETING, Role.EDITOR, Role.DEPARTMENT_HEAD, Role.LEGAL, Role.DATA_ANALYST, Role.AUDITOR)
ACTORS = {role: odd(SHORT, f"{role.value}-") for role in ROLES}
STAGES = (("editor", Role.EDITOR), ("department_head", Role.DEPARTMENT_HEAD), ("legal", Role.LEGAL))
COUNTERS = ("impressions", "reach", "views", "likes", "comments", "shares", "saves", "clicks", "conversions")


def post(api: Api, path: str, body: dict[str, Any], key: str) -> Any:
    # Sent as UTF-8, not \\u escapes: 200 000 characters stay under the body limit.
    raw = json.dumps(body, ensure_ascii=False).encode()
    response = api.client.post(
        path, content=raw, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    )
    assert response.status_code in (200, 201), response.text[:500]
    return response


def test_the_longest_and_oddest_values_are_projected_and_read_back(api: Api, tmp_path: Path) -> None:
    keys = {role: api.key(actor, role, DEPARTMENT) for role, actor in ACTORS.items()}
    plan = {
        "theme": odd(SHORT, "主题"), "format": odd(SHORT, "fmt"), "target_audience": odd(MEDIUM, "受众"),
        "expected_effect": odd(MEDIUM, "效果"), "platforms": [PLATFORM, "wechat"],
        "campaign": odd(SHORT, "活动"),
        "planned_publish_date": PLANNED_DATE,
    }  # fmt: skip
    item = post(api, "/items", plan, keys[Role.MARKETING]).json()["id"]
    draft = {"title": odd(SHORT, "标题"), "body": odd(BODY, "正文"),
             "asset_links": [odd(MEDIUM, "https://")], "source_notes": odd(LONG, "来源")}  # fmt: skip
    post(api, f"/items/{item}/drafts", draft, keys[Role.MARKETING])
    post(api, f"/items/{item}/review-requests", {}, keys[Role.MARKETING])
    reasons = [odd(MEDIUM, "理由"), odd(MEDIUM, "再")]
    post(api, f"/items/{item}/change-requests", {"stage": "editor", "revision": 1, "reasons": reasons},
         keys[Role.EDITOR])  # fmt: skip
    post(api, f"/items/{item}/drafts", draft, keys[Role.MARKETING])
    in_review = post(api, f"/items/{item}/review-requests", {}, keys[Role.MARKETING])
    queue = api.get(f"/queues/review?department={DEPARTMENT}", keys[Role.EDITOR], **_wait(in_review)).json()
    assert [(e["department"], e["theme"]) for e in queue] == [(DEPARTMENT, plan["theme"])]
    for stage, role in STAGES:
        approved = post(api, f"/items/{item}/approvals", {"stage": stage, "revision": 2}, keys[role]).json()
    content_hash = approved["current_revision"]["content_hash"]
    schedule = {"platform": PLATFORM, "at": SCHEDULED_AT}
    post(api, f"/items/{item}/schedule", schedule, keys[Role.MARKETING])
    publication = {"platform": PLATFORM, "published_at": PUBLISHED_AT, "external_id": odd(SHORT, "外部"),
                   "url": odd(MEDIUM, "https://例子.中国/"), "revision": 2,
                   "content_hash": content_hash}  # fmt: skip
    post(api, f"/items/{item}/publications", publication, keys[Role.MARKETING])
    counters = dict.fromkeys(COUNTERS, BIG)
    observation = {"platform": PLATFORM, "observed_at": OBSERVED_AT, "counters": counters}
    post(api, f"/items/{item}/metrics", observation, keys[Role.DATA_ANALYST])
    withdrawal = {"reason": odd(MEDIUM, "撤回")}
    last = post(api, f"/items/{item}/withdrawal", withdrawal, keys[Role.MARKETING])
    wait = _wait(last)

    rows = api.get(f"/items?department={DEPARTMENT}&campaign={plan['campaign']}", keys[Role.EDITOR], **wait)
    (row,) = rows.json()["items"]
    assert (row["theme"], row["format"], row["department"], row["campaign"]) == (
        plan["theme"], plan["format"], DEPARTMENT, plan["campaign"])  # fmt: skip
    (published,) = api.get(f"/publications?item_id={item}&platform={PLATFORM}", keys[Role.EDITOR],
                           **wait).json()["items"]  # fmt: skip
    assert (published["platform"], published["external_id"], published["url"]) == (
        PLATFORM, publication["external_id"], publication["url"])  # fmt: skip
    metrics = api.get(f"/items/{item}/metrics", keys[Role.DATA_ANALYST], **wait).json()
    assert metrics["latest"][0]["platform"] == PLATFORM
    assert all(metrics["latest"][0][name] == BIG for name in counters)
    auditor = keys[Role.AUDITOR]
    trail = api.get(f"/audit-trail?aggregate_id={item}&limit=500", auditor, **wait).json()["items"]
    by_type = {entry["event_type"]: entry for entry in trail}
    assert {entry["actor_id"] for entry in trail} == {ACTORS[r] for r in ACTORS if r is not Role.AUDITOR}
    assert {entry["department"] for entry in trail} == {DEPARTMENT}
    assert by_type["Planned"]["payload"]["target_audience"] == plan["target_audience"]
    drafted = json.dumps(by_type["Drafted"]["payload"], ensure_ascii=False)
    assert all(_as_json(str(draft[name])) in drafted for name in ("title", "body", "source_notes"))
    for actor in ACTORS.values():
        if actor != ACTORS[Role.AUDITOR]:
            by_actor = api.get(f"/audit-trail?actor={actor}", auditor, **wait).json()["items"]
            assert by_actor
            assert {e["actor_id"] for e in by_actor} == {actor}

    tables = snapshot(api.client.app.state.read_model)  # type: ignore[attr-defined]
    stored = set(_strings(tables))
    for value in (*reasons, withdrawal["reason"], plan["expected_effect"], publication["url"], DEPARTMENT):
        assert value in stored, value[:20]
    filled = ("item_status", "review_history", "publication_log", "item_metrics", "item_metrics_history")
    assert all(tables[name] for name in filled)

    # The log holding them exports, and the export verifies offline against the tree head (docs/audit.md).
    (tmp_path / "head.json").write_text(api.get("/audit/tree-head", auditor).text, encoding="utf-8")
    (tmp_path / "log.csv").write_bytes(api.get("/audit/export?format=csv", auditor).content)
    checked = verifier.run(
        "export", tmp_path / "log.csv", "--complete", "--tree-head", tmp_path / "head.json"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _as_json(text: str) -> str:
    """`text` as it appears inside a JSON string (quotes and backslashes escaped)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _strings(value: Any) -> Iterator[str]:
    """Every string in a snapshot of tables, inside JSON columns (text on SQLite) too."""
    if isinstance(value, str):
        yield value
        if value[:1] in ("[", "{"):
            with suppress(ValueError):
                yield from _strings(json.loads(value))
    elif isinstance(value, dict):
        yield from _strings(list(value.values()))
    elif isinstance(value, list | tuple):
        for part in value:
            yield from _strings(part)
