"""A content item keeps its current revision and the authors of all its revisions, not every
revision (ADR 0039): the segregation rule still sees every author across a snapshot, a snapshot
stored when the item kept every revision loads into the new shape, and the stored state does
not grow with the number of drafts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.items import ContentItems
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.snapshots import AggregateSnapshot
from nm_workflow.application.store import EventStore
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.errors import SelfApproval
from nm_workflow.domain.roles import Role, Stage
from tests.integration.test_event_store import planned_item
from tests.integration.test_replay import fold, state

PLAN = {
    "theme": "Spring", "format": "article", "target_audience": "customers", "expected_effect": "awareness",
    "platforms": ["wechat"], "campaign": None, "planned_publish_date": None,
}  # fmt: skip
ANY_REVISION: dict[str, Any] = {"revision": None, "content_hash": None}


def author(name: str) -> CommandContext:
    """Someone who drafts in marketing and also reviews as an editor."""
    return CommandContext(actor=Actor(name, frozenset({Role.MARKETING, Role.EDITOR}), "product"))


def draft(name: str, title: str = "T", body: str = "B") -> dict[str, Any]:
    return {"title": title, "body": body, "asset_links": [], "source_notes": f"by {name}"}


def test_an_author_of_an_old_revision_may_not_approve_after_a_snapshot(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(snapshot_interval=3)
    store, other_process = EventStore(settings), EventStore(settings)
    try:
        items = ContentItems(store)
        item_id = items.plan(author("ann"), PLAN).aggregate_id
        for name in ["ann", "bob", "carl", "carl"]:  # versions 2-5: ann's draft is long gone by 5
            items.draft(author(name), item_id, draft(name))
        items.request_review(author("carl"), item_id, None)  # version 6: a snapshot

        snapshot = other_process.latest_snapshot(item_id)
        assert isinstance(snapshot, ContentItem)
        assert (snapshot.version, snapshot.revision_authors) == (6, ["ann", "bob", "carl"])
        loaded = other_process.load(item_id)  # the snapshot, no event after it
        with pytest.raises(SelfApproval, match="ann authored a revision"):
            loaded.approve(stage=Stage.EDITOR, revision=None, content_hash=None, reviewer_id="ann")
        assert store.snapshot_hints.get(item_id) == 6  # so a command reads the snapshot, not the events
        with pytest.raises(SelfApproval, match="ann authored a revision"):
            items.approve(author("ann"), item_id, Stage.EDITOR, ANY_REVISION)
        approved = items.approve(author("dana"), item_id, Stage.EDITOR, ANY_REVISION)
        assert approved.view["approvals"] == {"editor": "dana"}
        assert approved.view["current_revision"]["author_id"] == "carl"
    finally:
        store.close()
        other_process.close()


def version_1_state(item: ContentItem, drafted: list[Any]) -> dict[str, Any]:
    """The state a snapshot of `item` held when the item kept every revision (class version 1)."""
    kept = {k: v for k, v in vars(item).items() if k not in ("_current_revision", "revision_authors")}
    for name in ("_id", "_version", "_pending_events"):  # the snapshot's envelope holds these
        kept.pop(name)
    revisions = [
        {
            "number": e.revision,
            "title": e.title,
            "body": e.body,
            "asset_links": e.asset_links,
            "source_notes": e.source_notes,
            "content_hash": e.content_hash,
            "author_id": e.author_id,
            "findings": list(e.findings or []),
            "lexicon_version": e.lexicon_version,
        }
        for e in drafted
    ]
    return {**kept, "revisions": revisions}


def test_a_snapshot_that_kept_every_revision_loads_into_the_new_shape(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(snapshot_interval=0)  # the only snapshot is the one written here
    store, reader = EventStore(settings), EventStore(settings)
    try:
        item = planned_item()
        for name, title in [("ann", "First"), ("bob", "Second"), ("ann", "Third")]:
            item.draft(title=title, body="Body.", asset_links=[], source_notes="", author_id=name)
        store.record(item)  # versions 1-4
        item.draft(title="Fourth", body="Body.", asset_links=[], source_notes="", author_id="carl")
        store.record(item)  # version 5, after the snapshot
        events = list(store.stored_events(item.id))
        at_4 = fold(events[:4])
        assert store.snapshots is not None
        store.snapshots.put(
            [
                AggregateSnapshot(
                    originator_id=item.id,
                    originator_version=4,
                    timestamp=events[3].timestamp,
                    topic="nm_workflow.domain.content_item:ContentItem",
                    state=version_1_state(at_4, events[1:4]),
                )
            ]
        )

        upcast = reader.latest_snapshot(item.id)
        assert isinstance(upcast, ContentItem)
        assert "revisions" not in vars(upcast)
        assert state(upcast) == state(at_4)
        assert (upcast.revision_authors, upcast.current_revision["title"]) == (["ann", "bob"], "Third")
        loaded = reader.load(item.id)  # the old snapshot and the event after it
        assert state(loaded) == state(fold(events))
        assert (loaded.revision_authors, loaded.current_revision["number"]) == (["ann", "bob", "carl"], 4)
    finally:
        store.close()
        reader.close()


DRAFTS, BODY = 300, "x" * 1_000


def test_the_stored_snapshot_of_an_item_does_not_grow_with_its_drafts(
    make_settings: Callable[..., Settings],
) -> None:
    store = EventStore(make_settings(snapshot_interval=100, snapshot_interval_small_state=0))
    try:
        item = planned_item()
        for n in range(DRAFTS):  # every draft's content differs, by one of three authors
            item.draft(
                title=f"T{n}", body=f"{n} {BODY}", asset_links=[], source_notes="", author_id=f"a{n % 3}"
            )
        store.record(item)

        assert store.snapshots is not None
        stored = {s.originator_version: len(s.state) for s in store.snapshots.recorder.select_events(item.id)}
        assert sorted(stored) == [100, 200, 300]
        assert stored[300] - stored[100] < 50  # a few digits more: numbers, hashes, times
        assert stored[300] < 3 * len(BODY)  # the current revision and the rest of the item only
        latest = store.load(item.id)
        assert (latest.revision_count, latest.revision_authors) == (DRAFTS, ["a0", "a1", "a2"])
    finally:
        store.close()


def test_a_snapshot_of_an_item_never_drafted_upcasts_to_no_revision() -> None:
    state: dict[str, Any] = {"theme": "Spring", "revisions": []}
    ContentItem.upcast_v1_v2(state)
    assert state == {"theme": "Spring", "_current_revision": None, "revision_authors": []}
