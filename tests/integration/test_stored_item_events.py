"""Content item events stored by an earlier build still load, into the very state that build kept.

`tests/data/content_item_events.json` holds every kind of ContentItem event as the code before
the aggregate's state and publication commands moved to their own modules recorded them (two
items: one drafted twice, sent back, approved at all four stages, scheduled, published, measured
twice with a correction and withdrawn; one cancelled), with the state a snapshot of each item
took then. Stored events name their class by topic (`module:Class.Event`): an event class that
moves, or an attribute that changes its name or place in the state, fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from nm_workflow.application.settings import Settings
from nm_workflow.application.snapshots import AggregateSnapshot
from nm_workflow.application.store import EventStore
from nm_workflow.domain.content import ItemState
from nm_workflow.domain.content_item import ContentItem
from tests.integration.test_replay import fold

RECORDED = json.loads((Path(__file__).parents[1] / "data" / "content_item_events.json").read_text())


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[EventStore]:
    store = EventStore(Settings(data_dir=tmp_path / "data", database_url=None))
    yield store
    store.close()


def _loaded(store: EventStore, recorded: dict[str, Any]) -> ContentItem:
    stored = [
        StoredEvent(UUID(recorded["originator_id"]), e["originator_version"], e["topic"], e["state"].encode())
        for e in recorded["events"]
    ]
    item = fold([store.mapper.to_domain_event(s) for s in stored])
    assert isinstance(item, ContentItem)
    return item


@pytest.mark.parametrize("which", [0, 1], ids=["published-and-withdrawn", "cancelled"])
def test_stored_events_load_into_the_state_an_earlier_build_kept(
    sqlite_store: EventStore, which: int
) -> None:
    recorded = RECORDED["items"][which]
    item = _loaded(sqlite_store, recorded)
    state = sqlite_store.mapper.transcoder.encode(AggregateSnapshot.take(item).state)
    assert state.decode() == recorded["snapshot_state"]


def test_the_loaded_item_reads_as_recorded(sqlite_store: EventStore) -> None:
    item = _loaded(sqlite_store, RECORDED["items"][0])
    assert (item.state, item.stage, item.revision_count, item.revision_authors) == (
        ItemState.WITHDRAWN, None, 2, ["ann", "bob"],
    )  # fmt: skip
    assert item.approvals == {"editor": "eve", "department_head": "hal", "legal": "lee", "management": "max"}
    assert list(item.publications) == ["wechat"]
    assert item.corrections == {"wechat": {"2026-03-02T22:00:00+00:00": {"views": 10}}}
    assert _loaded(sqlite_store, RECORDED["items"][1]).state is ItemState.CANCELLED
