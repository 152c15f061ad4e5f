"""What each table holds after one item's eventful life, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from nm_workflow.application.commands import CommandContext, CommandResult
from nm_workflow.application.items import ContentItems
from nm_workflow.application.keys import KeyService
from nm_workflow.application.security import Actor
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role, Stage
from projections import ReadModel
from tests.projections.conftest import SupervisorFactory

MARKETER = Actor("marketer-1", frozenset({Role.MARKETING}), "product")
EDITOR = Actor("editor-1", frozenset({Role.EDITOR}), "editorial")
HEAD = Actor("head-1", frozenset({Role.DEPARTMENT_HEAD}), "product")
LEGAL = Actor("legal-1", frozenset({Role.LEGAL}), "legal")
ANALYST = Actor("analyst-1", frozenset({Role.DATA_ANALYST}), "data")
# After the approvals (recorded at the real time of the run) and before the items' clock.
START = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
PUBLISHED_AT = START.astimezone(timezone(timedelta(hours=8)))
LATER, EARLIER = START + timedelta(days=2), START + timedelta(days=1)
PLANNED_DATE = (START + timedelta(days=10)).date()


def ctx(actor: Actor, key: str | None = None) -> CommandContext:
    return CommandContext(actor=actor, idempotency_key=key)


def live_one_life(store: EventStore, plan_key: str = "plan-1") -> tuple[UUID, int]:
    """Plan, review with changes requested, approve, publish twice, measure, withdraw."""
    items = ContentItems(store, clock=lambda: START + timedelta(days=7))
    plan = {
        "theme": "Spring", "format": "article", "target_audience": "customers",
        "expected_effect": "awareness", "platforms": ["wechat", "weibo"], "campaign": "spring",
        "planned_publish_date": PLANNED_DATE,
    }  # fmt: skip
    item = items.plan(ctx(MARKETER, key=plan_key), plan).aggregate_id
    draft = {"title": "One", "body": "Body", "asset_links": [], "source_notes": "notes"}
    items.draft(ctx(MARKETER), item, draft)
    items.request_review(ctx(MARKETER), item, None)
    approve: dict[str, Any] = {"revision": None, "content_hash": None}
    items.approve(ctx(EDITOR), item, Stage.EDITOR, approve)
    items.request_changes(ctx(HEAD), item, Stage.DEPARTMENT_HEAD, {"revision": None, "reasons": ["facts"]})
    result = items.draft(ctx(MARKETER), item, draft | {"title": "Two"})
    items.request_review(ctx(MARKETER), item, None)
    for reviewer, stage in ((EDITOR, Stage.EDITOR), (HEAD, Stage.DEPARTMENT_HEAD), (LEGAL, Stage.LEGAL)):
        result = items.approve(ctx(reviewer), item, stage, approve)
    publication = {
        "platform": "wechat", "published_at": PUBLISHED_AT, "external_id": "wx-1", "url": None,
        "revision": 2, "content_hash": result.view["current_revision"]["content_hash"],
    }  # fmt: skip
    items.publish(ctx(MARKETER), item, publication)
    items.publish(ctx(MARKETER), item, publication | {"platform": "weibo", "external_id": "wb-1"})
    counters = {"impressions": 1000, "likes": 30, "comments": 5, "clicks": 40, "conversions": 4}
    observe = {"platform": "wechat", "counters": counters}
    items.record_metrics(ctx(ANALYST), item, observe | {"observed_at": LATER})
    items.record_metrics(
        ctx(ANALYST), item, observe | {"observed_at": EARLIER, "counters": {"impressions": 10}}
    )
    last: CommandResult = items.withdraw(ctx(LEGAL), item, "complaint")
    return item, last.position


@pytest.fixture
def one_life(store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory) -> UUID:
    item, _ = live_one_life(store)
    KeyService(store).create("svc-1", [Role.SERVICE], "it", issued_by="admin-1")
    assert start_supervisor().wait_for(store.head(), timeout=30)
    return item


def test_item_status_shows_state_and_milestones(one_life: UUID, read_model: ReadModel) -> None:
    (row,) = read_model.list_items().items
    assert (row["item_id"], row["state"], row["revision"], row["approved_revision"]) == (
        one_life,
        "withdrawn",
        2,
        2,
    )
    assert (row["department"], row["platforms"], row["campaign"]) == (
        "product",
        ["wechat", "weibo"],
        "spring",
    )
    assert (row["planned_by"], row["planned_publish_date"], row["closing_reason"]) == (
        "marketer-1",
        PLANNED_DATE,
        "complaint",
    )
    assert row["first_drafted_at"] < row["last_drafted_at"] < row["review_requested_at"]
    assert row["editor_approved_at"] < row["department_head_approved_at"] < row["legal_approved_at"]
    assert row["first_published_at"] == row["last_published_at"] == PUBLISHED_AT
    assert row["first_published_at"].tzinfo == UTC
    assert row["withdrawn_at"] is not None
    assert row["version"] == 15


def test_review_history_keeps_every_wait_and_the_queue_empties(one_life: UUID, read_model: ReadModel) -> None:
    with read_model.db.read({}) as tx:
        rows = tx.all(
            "SELECT stage, outcome, decided_by, revision, wait_seconds FROM review_history ORDER BY position"
        )
    assert [(r["stage"], r["outcome"], r["decided_by"], r["revision"]) for r in rows] == [
        ("editor", "approved", "editor-1", 1),
        ("department_head", "changes_requested", "head-1", 1),
        ("editor", "approved", "editor-1", 2),
        ("department_head", "approved", "head-1", 2),
        ("legal", "approved", "legal-1", 2),
    ]
    assert all(r["wait_seconds"] >= 0 for r in rows)
    assert read_model.review_queue() == []


def test_publication_log_has_one_row_per_platform_withdrawn_together(
    one_life: UUID, read_model: ReadModel
) -> None:
    rows = read_model.publications(item_id=one_life).items
    assert sorted((r["platform"], r["external_id"], r["revision"]) for r in rows) == [
        ("wechat", "wx-1", 2),
        ("weibo", "wb-1", 2),
    ]
    assert all(r["published_at"] == PUBLISHED_AT and r["withdrawn_at"] is not None for r in rows)
    assert {r["withdrawal_reason"] for r in rows} == {"complaint"}


def test_item_metrics_keep_the_latest_observation_not_the_last_recorded(
    one_life: UUID, read_model: ReadModel
) -> None:
    metrics = read_model.item_metrics(one_life)
    (latest,) = metrics["latest"]
    assert (latest["observed_at"], latest["impressions"], latest["observations"]) == (LATER, 1000, 2)
    assert latest["interaction_rate"] == pytest.approx(35 / 1000)
    assert latest["conversion_rate"] == pytest.approx(4 / 40)
    assert latest["shares"] is None
    assert [h["observed_at"] for h in metrics["history"]] == [EARLIER, LATER]
    assert metrics["history"][0]["interaction_rate"] is None


def test_audit_trail_has_every_event_of_every_aggregate_without_secrets(
    one_life: UUID, read_model: ReadModel, store: EventStore
) -> None:
    page = read_model.audit_trail(limit=500)
    assert [r["position"] for r in page.items] == list(range(1, store.head() + 1))
    types = {r["aggregate_type"] for r in page.items}
    assert types == {"ContentItem", "IdempotencyRecord", "ApiKey", "WorkflowPolicy"}
    (key_issued,) = [r for r in page.items if r["event_type"] == "KeyIssued"]
    assert "secret_hash" not in key_issued["payload"]
    assert key_issued["payload"]["actor_id"] == "svc-1"
    seeded, first = page.items[:2]  # the first command records the seed policy first
    assert (seeded["aggregate_type"], seeded["event_type"]) == ("WorkflowPolicy", "Seeded")
    assert (first["aggregate_id"], first["version"], first["event_type"]) == (one_life, 1, "Planned")
    assert (first["actor_id"], first["role"], first["department"]) == ("marketer-1", "marketing", "product")
    assert first["causation_id"] == "plan-1"
    assert first["payload"]["platforms"] == ["wechat", "weibo"]
