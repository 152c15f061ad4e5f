"""The projections' batch reads the log's events as the store's own recorder and mapper give
them (projections/readside.py): on SQLite through the rebuild's read and decoding
(projections/log_in_tx.py), each aggregate's id parsed once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from nm_workflow.application.store import EventStore
from projections import ReadModel
from projections.base import Recorded
from projections.readside import EventSource
from tests.projections.scenario import Scenario


def _seen(events: list[Recorded]) -> list[tuple[Any, ...]]:
    return [(r.position, r.topic, type(r.event), r.aggregate_id, vars(r.event)) for r in events]


def _the_stores(
    store: EventStore, after: int, upto: int | None, topics: list[str], limit: int
) -> list[Recorded]:
    """What the store's recorder and mapper give: the library's notifications, decoded one by one."""
    recorder = store.recorder
    found = recorder.select_notifications(after, limit, stop=upto, topics=topics, inclusive_of_start=False)
    return [Recorded(n.id, n.topic, store.mapper.to_domain_event(n)) for n in found]


def test_the_batch_reads_the_events_the_store_s_recorder_and_mapper_give(
    store: EventStore, read_model: ReadModel
) -> None:
    Scenario(store, seed=11).run(items=5, open_at_once=3)
    head, source = store.head(), EventSource(store)
    some = list(read_model.projections["item_metrics"].topics + read_model.projections["item_status"].topics)
    cases = [(0, None, [], 1000), (0, head, [], 1000), (3, head - 2, [], 7), (0, None, some, 5),
             (2, head, some[:1], 1000), (head, None, [], 10), (head, head, some, 10)]  # fmt: skip
    for after, upto, topics, limit in cases:
        read = source.read(after, upto, topics, limit)
        assert _seen(read) == _seen(_the_stores(store, after, upto, topics, limit)), (after, upto, topics)
        assert all(type(r.event.originator_id) is UUID for r in read)
    assert source.read(0, None, some[:1], 1000)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_sqlite_an_aggregate_s_id_is_parsed_once_for_all_its_events(store: EventStore) -> None:
    Scenario(store, seed=3).run(items=3, open_at_once=1)
    read = EventSource(store).read(0, None, [], 1000)
    by_id: dict[UUID, list[UUID]] = {}
    for recorded in read:
        by_id.setdefault(recorded.event.originator_id, []).append(recorded.event.originator_id)
    assert any(len(ids) > 1 for ids in by_id.values())
    for ids in by_id.values():  # one UUID object per aggregate: its text parsed once
        assert all(i is ids[0] for i in ids)
