"""A shared batch moves all its projections' trackings together (on PostgreSQL in one statement)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import APPLICATION_NAME, EventStore
from projections import ReadModel
from projections.batches import Builder, SharedReader, TrackingMoved
from projections.tracking import advance_together
from tests.projections.test_tables import live_one_life

NAMES = ("audit_trail", "item_status", "publication_log")


def _builders(m: ReadModel, batch_size: int = 4) -> list[Builder]:
    return [Builder(m.projections[n], m.recorders[n], m.db, m.source, batch_size) for n in NAMES]


def test_each_tracking_is_answered_for_and_only_those_where_expected_move(read_model: ReadModel) -> None:
    m = read_model
    trail, status, publications = recorders = [m.recorders[n] for n in NAMES]
    with m.db.write({}) as tx, tx.batched():
        moved = advance_together(tx, APPLICATION_NAME, [(r, 0) for r in recorders], 5)
        assert moved() == [True, True, True]
    with m.db.write({}) as tx, tx.batched():  # the second one expected elsewhere
        moved = advance_together(tx, APPLICATION_NAME, [(trail, 5), (status, 3), (publications, 5)], 9)
        assert moved() == [True, False, True]
    assert m.positions(NAMES) == {"audit_trail": 9, "item_status": 5, "publication_log": 9}
    with m.db.write({}) as tx, tx.batched():  # never backwards, even from where it is
        moved = advance_together(tx, APPLICATION_NAME, [(status, 5), (trail, 9)], 7)
        assert moved() == [True, False]
    assert m.positions(NAMES) == {"audit_trail": 9, "item_status": 7, "publication_log": 9}
    with m.db.write({}) as tx, tx.batched():
        assert advance_together(tx, APPLICATION_NAME, [], 11)() == []


def test_a_shared_batch_whose_one_tracking_another_process_moved_writes_nothing_then_goes_on(
    store: EventStore, read_model: ReadModel, make_settings: Callable[..., Settings]
) -> None:
    m = read_model
    _, position = live_one_life(store)
    builders = _builders(m)
    reader = SharedReader(builders, m.db, m.source, batch_size=4)
    assert reader.step(builders)
    assert m.positions(NAMES) == dict.fromkeys(NAMES, 4)
    trail_rows = m.audit_trail(cursor=None, limit=500).items

    # Another process (its own read model, as if the ownership lock had been lost) moves
    # item_status alone, one batch further.
    other = ReadModel(make_settings())
    try:
        assert Builder(other.projections["item_status"], other.recorders["item_status"], other.db,
                       other.source, 4).step()  # fmt: skip
    finally:
        other.close()
    moved_alone = m.positions(["item_status"])["item_status"]
    assert moved_alone > 4

    with pytest.raises(TrackingMoved, match=r"^item_status$"):
        reader.step(builders)
    assert m.positions(NAMES) == {"audit_trail": 4, "item_status": moved_alone, "publication_log": 4}
    assert m.audit_trail(cursor=None, limit=500).items == trail_rows, "nothing of the batch written"

    while reader.step(builders):  # the positions read again from the tracking rows
        pass
    assert m.positions(NAMES) == dict.fromkeys(NAMES, position)
    audited = [r["position"] for r in m.audit_trail(cursor=None, limit=500).items]
    assert sorted(audited) == list(range(1, position + 1)), "every event once"
    assert sorted(r["platform"] for r in m.publications(limit=10).items) == ["wechat", "weibo"]
