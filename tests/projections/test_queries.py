"""The query API the HTTP reads use: filters, cursor paging, the review queue by role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role, Stage
from projections import InvalidCursor, InvalidQuery, Page, ReadModel
from projections.queries import encode_cursor
from tests.projections.conftest import SupervisorFactory
from tests.projections.scenario import Scenario


@pytest.fixture
def populated(store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory) -> ReadModel:
    Scenario(store, seed=42).run(items=30, open_at_once=20, finish=False)
    assert start_supervisor().wait_for(store.head(), timeout=60)
    return read_model


def test_list_items_filters_and_pages_through_everything_once(populated: ReadModel) -> None:
    everything = populated.list_items(limit=500).items
    seen, cursor = [], None
    while True:
        page = populated.list_items(cursor=cursor, limit=7)
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == everything
    assert len(seen) == 30
    positions = [row["planned_position"] for row in seen]
    assert positions == sorted(positions, reverse=True), "newest plan first"

    for state in {row["state"] for row in everything}:
        assert populated.list_items(state=state, limit=500).items == [
            r for r in everything if r["state"] == state
        ]
    wechat = populated.list_items(platform="wechat", limit=500).items
    assert wechat == [r for r in everything if "wechat" in r["platforms"]]
    both = populated.list_items(department="product", campaign="spring", limit=500).items
    assert both == [r for r in everything if (r["department"], r["campaign"]) == ("product", "spring")]


def test_a_cursor_must_be_one_the_list_sent(read_model: ReadModel) -> None:
    with pytest.raises(InvalidCursor):
        read_model.list_items(cursor="not a cursor")
    with pytest.raises(InvalidCursor):
        read_model.list_items(cursor=encode_cursor("audit_trail", 3))
    with pytest.raises(InvalidQuery):
        read_model.list_items(limit=0)


def test_review_queue_defaults_to_the_stages_of_the_callers_roles(populated: ReadModel) -> None:
    everything = populated.review_queue()
    assert everything, "the scenario leaves items in review"
    legal = populated.review_queue(roles=[Role.LEGAL])
    assert legal == [r for r in everything if r["stage"] == "legal"]
    assert populated.review_queue(roles=[Role.MARKETING]) == []
    heads = populated.review_queue(stage="department_head", department="product")
    assert heads == [r for r in everything if (r["stage"], r["department"]) == ("department_head", "product")]
    assert [r["due_by"] for r in everything] == sorted(r["due_by"] for r in everything)
    assert all(r["due_by"] - r["waiting_since"] == timedelta(hours=48) for r in everything)
    with pytest.raises(InvalidQuery):
        populated.review_queue(stage="nobody")


def test_review_queue_shows_own_department_waits_only_where_asked(populated: ReadModel) -> None:
    everything = populated.review_queue()
    departments = sorted({r["department"] for r in everything})
    assert len(departments) > 1, "the scenario leaves several departments' items in review"
    mine, other = departments[:2]
    every_stage = {stage.value: mine for stage in Stage}
    assert populated.review_queue(own=every_stage) == [r for r in everything if r["department"] == mine]
    at_heads = populated.review_queue(own={"department_head": "nowhere"})
    assert at_heads == [r for r in everything if r["stage"] != "department_head"]
    # An explicit department wins over the default of each stage.
    explicit = populated.review_queue(department=other, own=every_stage)
    assert explicit == [r for r in everything if r["department"] == other]


def test_overdue_is_computed_against_the_time_of_the_query(populated: ReadModel) -> None:
    queue = populated.review_queue()
    assert not any(r["overdue"] for r in queue)
    later = max(r["due_by"] for r in queue) + timedelta(seconds=1)
    assert all(r["overdue"] for r in populated.review_queue(now=later))


def test_publications_page_newest_first_and_filter_by_item_and_platform(populated: ReadModel) -> None:
    everything = populated.publications(limit=500).items
    first = populated.publications(limit=5)
    rest = populated.publications(limit=500, cursor=first.next_cursor).items
    assert first.items + rest == everything
    item = everything[0]["item_id"]
    assert populated.publications(item_id=item).items == [r for r in everything if r["item_id"] == item]
    weibo = populated.publications(platform="weibo", limit=500).items
    assert weibo == [r for r in everything if r["platform"] == "weibo"]


def test_item_metrics_give_the_latest_per_platform_and_the_history(populated: ReadModel) -> None:
    published = populated.publications(limit=500).items
    measured = [populated.item_metrics(r["item_id"]) for r in published]
    metrics = next(m for m in measured if m["history"])
    for latest in metrics["latest"]:
        history = [h for h in metrics["history"] if h["platform"] == latest["platform"]]
        assert latest["observed_at"] == max(h["observed_at"] for h in history)
        assert latest["observations"] == len(history)
    unknown = uuid4()
    assert populated.item_metrics(unknown) == {"item_id": unknown, "latest": [], "history": []}


def every_page(read: Callable[..., Page], **filters: Any) -> list[dict[str, Any]]:
    rows, cursor = [], None
    while True:
        page = read(cursor=cursor, limit=100, **filters)
        rows += page.items
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def test_audit_trail_filters_by_aggregate_actor_and_time(populated: ReadModel, store: EventStore) -> None:
    everything = every_page(populated.audit_trail)
    assert [r["position"] for r in everything] == list(range(1, store.head() + 1))
    item = everything[0]["aggregate_id"]
    history = populated.audit_trail(aggregate_id=item, limit=500).items
    assert [r["version"] for r in history] == list(range(1, len(history) + 1))
    legal = populated.audit_trail(actor="legal-1", limit=500).items
    assert legal
    assert all(r["actor_id"] == "legal-1" for r in legal)
    middle = everything[len(everything) // 2]["occurred_at"]
    before = every_page(populated.audit_trail, to=middle)
    after = every_page(populated.audit_trail, from_=middle)
    assert before + after == everything
    with pytest.raises(InvalidQuery):
        populated.audit_trail(from_=datetime(2025, 1, 1))  # no time zone
    assert populated.audit_trail(from_=datetime.now(UTC) + timedelta(days=1)).items == []
