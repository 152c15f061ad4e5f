"""Event metadata: who caused an event and why, stamped from the command's context."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, UUIDAsHex

from nm_workflow.application.store import DateAsISO
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.errors import NotPublished
from nm_workflow.domain.metadata import EventMetadata, WorkflowAggregate, recording
from nm_workflow.domain.roles import SEED_CHAIN, Stage
from nm_workflow.domain.timing import Now

PLANNER = EventMetadata("pat", "marketing", "consumer", "corr-1", "key-1", 1)
EDITOR = EventMetadata("eve", "editor", "newsroom", "corr-2", "key-2", 2)


def plan_item() -> ContentItem:
    return ContentItem.plan(
        theme="Spring launch",
        format="article",
        target_audience="young parents",
        expected_effect="2% click-through",
        platforms=["weibo"],
        department="consumer",
        campaign=None,
        planned_publish_date=None,
        planner_id="pat",
        now=Now(datetime.now(UTC)),
    )


def collected(item: ContentItem) -> list[Any]:
    return list(item.collect_events())


def draft(item: ContentItem) -> None:
    item.draft(title="Spring", body="Hello", asset_links=[], source_notes="", author_id="ann")


def test_metadata_has_exactly_the_five_fields() -> None:
    assert [f.name for f in fields(EventMetadata)] == [
        "actor_id",
        "role",
        "department",
        "correlation_id",
        "causation_id",
        "policy_version",
    ]
    assert PLANNER.as_dict() == {
        "actor_id": "pat",
        "role": "marketing",
        "department": "consumer",
        "correlation_id": "corr-1",
        "causation_id": "key-1",
        "policy_version": 1,
    }
    assert list(PLANNER.as_dict()) == [f.name for f in fields(EventMetadata)]  # as_dict spells each out


def test_events_inside_the_block_carry_exactly_its_metadata() -> None:
    with recording(PLANNER):
        item = plan_item()
        draft(item)
        item.request_review(revision=1)
    events = collected(item)
    assert [type(e).__name__ for e in events] == ["Planned", "Drafted", "ReviewRequested"]
    assert all(e.meta == PLANNER.as_dict() for e in events)


def test_each_event_owns_a_plain_dict() -> None:
    # A plain dict per event: serialisable, and editing one cannot leak into another.
    with recording(PLANNER):
        item = plan_item()
        draft(item)
    planned, drafted = collected(item)
    assert type(planned.meta) is dict
    assert planned.meta is not drafted.meta
    planned.meta["actor_id"] = "mallory"
    assert drafted.meta["actor_id"] == "pat"
    with recording(PLANNER):
        draft(item)
    assert collected(item)[0].meta == PLANNER.as_dict()


def test_events_outside_any_block_have_empty_metadata() -> None:
    item = plan_item()
    draft(item)
    assert [e.meta for e in collected(item)] == [{}, {}]


def test_the_context_is_restored_after_the_block() -> None:
    with recording(PLANNER):
        item = plan_item()
    draft(item)
    planned, drafted = collected(item)
    assert (planned.meta, drafted.meta) == (PLANNER.as_dict(), {})


def test_nested_blocks_restore_the_outer_metadata() -> None:
    with recording(PLANNER):
        item = plan_item()
        draft(item)
        with recording(EDITOR):
            item.request_review(revision=1)
        item.cancel(reason="Dropped")
    _, _, requested, cancelled = collected(item)
    assert requested.meta == EDITOR.as_dict()
    assert cancelled.meta == PLANNER.as_dict()


def test_the_context_is_restored_when_the_command_fails() -> None:
    item = plan_item()
    with pytest.raises(NotPublished), recording(EDITOR):
        item.withdraw(reason="Not yet")
    draft(item)
    assert [e.meta for e in collected(item)] == [{}, {}]


EVENT_NAMES = {
    "Planned",
    "Drafted",
    "ReviewRequested",
    "EditoriallyApproved",
    "DepartmentHeadApproved",
    "LegallyApproved",
    "ChangesRequested",
    "Scheduled",
    "Published",
    "MetricsRecorded",
    "Withdrawn",
    "Cancelled",
}


def approve(item: ContentItem, stage: Stage, reviewer: str) -> None:
    item.approve(stage=stage, revision=1, content_hash=None, reviewer_id=reviewer)


def test_every_kind_of_event_carries_metadata() -> None:
    # Guards every event class: each must derive from WorkflowAggregate.Event.
    at = datetime.now(UTC) + timedelta(minutes=1)  # after the approvals, a minute before `now`
    now = Now(at + timedelta(minutes=1))
    with recording(PLANNER):
        item, dropped = plan_item(), plan_item()
        draft(item)
        item.request_review(revision=1)
        for stage, reviewer in zip(SEED_CHAIN, ["eve", "hal", "lee"], strict=True):
            approve(item, stage, reviewer)
        item.schedule_publication(platform="weibo", at=at, now=now)
        content_hash = item.current_revision["content_hash"]
        item.publish(
            platform="weibo",
            published_at=at,
            external_id="w1",
            url=None,
            revision=1,
            content_hash=content_hash,
            now=now,
        )
        item.record_metrics(platform="weibo", observed_at=at, counters={"views": 1}, now=now)
        item.withdraw(reason="Done")
        draft(dropped)
        dropped.request_review(revision=1)
        dropped.request_changes(stage=Stage.EDITOR, revision=1, reasons=["why"], reviewer_id="eve")
        dropped.cancel(reason="Dropped")
    events = [*collected(item), *collected(dropped)]
    assert {type(e).__name__ for e in events} == EVENT_NAMES
    for event in events:
        assert isinstance(event, WorkflowAggregate.Event)
        assert event.meta == PLANNER.as_dict(), type(event).__name__


def test_event_timestamps_are_utc() -> None:
    item = plan_item()
    draft(item)
    for event in collected(item):
        assert event.timestamp.utcoffset() == timedelta(0)


def test_every_event_class_has_its_class_version_so_the_mapper_never_misses_it() -> None:
    # The library's mapper asks `getattr(type(event), "class_version", 1)` per event encoded and
    # decoded: a miss raised and caught an AttributeError each time (ADR 0057).
    assert vars(WorkflowAggregate.Event)["class_version"] == 1
    assert ContentItem.Drafted.class_version == 1  # type: ignore[attr-defined]
    assert ContentItem.class_version == 2, "the aggregate's own (its snapshots') is another"


def test_a_version_1_event_is_stored_without_a_class_version_and_reads_back() -> None:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    mapper: Mapper[Any] = Mapper(transcoder)
    item = plan_item()
    with recording(PLANNER):
        draft(item)
    for event in collected(item):
        stored = mapper.to_stored_event(event)
        assert b"class_version" not in stored.state, "the stored bytes are what the library wrote before"
        assert mapper.to_domain_event(stored) == event
