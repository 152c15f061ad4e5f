"""A batch's rows (projections/rows.py): read once, seen by the batch's later events, written at
its end, and gone with a rolled-back batch; projections built that way equal their rebuilds."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import CanInitAggregate
from hypothesis import given
from hypothesis import strategies as st

from nm_workflow.application.store import EventStore
from projections import ReadModel, rebuild
from projections.base import Projection, Recorded
from projections.database import Database
from projections.rows import Appended, Keyed, _locking_order, flush, prefetch
from projections.schema import Table, col
from projections.sql import Tx
from tests.projections.conftest import SupervisorFactory
from tests.projections.scenario import Scenario, snapshot

LATEST = Table(
    "batch_rows_latest",
    (col("item_id", "uuid"), col("at", "time"), col("count", "bigint"), col("extra", "json", null=True)),
    ("item_id",),
)
SEEN = Table("batch_rows_seen", (col("item_id", "uuid"), col("count", "bigint")), ("item_id", "count"))
BY_ITEM, SEEN_BY_ITEM = Keyed(LATEST, ("item_id",)), Appended(SEEN, ("item_id",))
TABLES = {"batch_rows_latest": "batch_rows_latest", "batch_rows_seen": "batch_rows_seen"}
AT = datetime(2026, 3, 1, 8, 30, 0, 123456, tzinfo=UTC)


class Boom(Exception):
    pass


class Counting(Projection):
    """Counts each item's events in `batch_rows_latest`, reading the count it wrote before."""

    name = "batch_rows_latest"
    schema = (LATEST, SEEN)
    batch_tables = (BY_ITEM, SEEN_BY_ITEM)
    every_event = True

    def handle(self, tx: Tx, recorded: Recorded) -> None:
        if recorded.event.fail:
            raise Boom
        found = BY_ITEM.get(tx, (recorded.aggregate_id,))
        count = 1 if found is None else found["count"] + 1
        BY_ITEM.put(tx, {"item_id": recorded.aggregate_id, "at": recorded.at, "count": count,
                         "extra": {"seen": count}})  # fmt: skip
        SEEN_BY_ITEM.add(tx, {"item_id": recorded.aggregate_id, "count": count})


class _Created(SimpleNamespace, CanInitAggregate[UUID]):
    """The first event of an aggregate (what the library's created events are)."""


def _event(position: int, item: UUID, *, fail: bool = False, first: bool = False) -> Recorded:
    kind = _Created if first else SimpleNamespace
    event = kind(originator_id=item, originator_version=position, timestamp=AT, fail=fail)
    return Recorded(position, "test", event)


class _Statements:
    """A SQLite cursor that keeps the text of every statement sent through it."""

    def __init__(self, raw: Any) -> None:
        self.raw, self.sent = raw, list[str]()

    def execute(self, sql: str, *args: Any) -> Any:
        self.sent.append(sql)
        return self.raw.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        self.sent.append(sql)
        return self.raw.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def _rows(db: Database) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with db.read(TABLES) as tx:
        latest = [LATEST.decode(tx.dialect, r) for r in tx.all("SELECT * FROM {batch_rows_latest}")]
        seen = tx.all("SELECT * FROM {batch_rows_seen} ORDER BY count")
    return latest, [SEEN.decode(tx.dialect, r) for r in seen]


@pytest.fixture
def counting(store: EventStore, settings: Any) -> tuple[Database, Counting]:
    db, projection = Database(store), Counting(settings)
    with db.write(TABLES) as tx:
        for statement in projection.ddl(db.dialect, TABLES, views=False):
            tx.raw.execute(statement)
    return db, projection


def test_later_events_of_a_batch_read_what_earlier_ones_wrote_and_the_next_batch_reads_it_stored(
    counting: tuple[Database, Counting],
) -> None:
    db, projection = counting
    item, other = uuid4(), uuid4()
    with db.write(TABLES) as tx, tx.batched():
        projection.apply(tx, [_event(1, item), _event(2, other), _event(3, item)])
        assert tx.batch_rows == {}  # written and forgotten at the end of the batch
    with db.write(TABLES) as tx, tx.batched():
        projection.apply(tx, [_event(4, item)])

    latest, seen = _rows(db)
    assert sorted((r["item_id"] == item, r["count"]) for r in latest) == [(False, 1), (True, 3)]
    assert {r["at"] for r in latest} == {AT}
    assert {r["extra"]["seen"] for r in latest} == {1, 3}
    assert [r["count"] for r in seen if r["item_id"] == item] == [1, 2, 3]
    with db.read(TABLES) as tx:  # stored and added rows of one key, read together
        SEEN_BY_ITEM.add(tx, {"item_id": item, "count": 4})  # added before the stored ones are read
        assert sorted(r["count"] for r in SEEN_BY_ITEM.rows(tx, (item,))) == [1, 2, 3, 4]
        prefetch(tx, (SEEN_BY_ITEM,), [item, other])  # read already: not read twice
        assert sorted(r["count"] for r in SEEN_BY_ITEM.rows(tx, (item,))) == [1, 2, 3, 4]
        assert [r["count"] for r in SEEN_BY_ITEM.rows(tx, (other,))] == [1]


def test_a_failed_batch_leaves_neither_rows_nor_rows_kept_for_the_next(
    counting: tuple[Database, Counting],
) -> None:
    db, projection = counting
    item = uuid4()
    with db.write(TABLES) as tx, tx.batched():
        projection.apply(tx, [_event(1, item)])
    with pytest.raises(Boom), db.write(TABLES) as failed, failed.batched():
        projection.apply(failed, [_event(2, item), _event(3, item), _event(4, item, fail=True)])
    assert failed.batch_rows == {}

    assert [r["count"] for r in _rows(db)[0]] == [1]
    with db.write(TABLES) as tx, tx.batched():
        projection.apply(tx, [_event(5, item)])
        flush(tx)  # nothing left to write twice
    assert [r["count"] for r in _rows(db)[0]] == [2]
    assert [r["count"] for r in _rows(db)[1]] == [1, 2]


def test_tables_built_one_event_per_batch_equal_their_rebuild_from_whole_batches(
    store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    # Batches of one read every row from the database; the rebuild's batches hold the
    # whole log, so every row after an item's first event comes from the batch's memory.
    names = ["review_queue", "item_status", "item_metrics", "audit_trail"]
    Scenario(store, seed=11).run(items=12, open_at_once=6, finish=False)
    start_supervisor(names, projection_batch_size=1)
    assert read_model.wait_for(store.head(), names, timeout=60)

    incremental = snapshot(read_model, names)
    for name in names:
        rebuild(read_model, name)
    assert snapshot(read_model, names) == incremental
    assert all(incremental[table] for table in ("review_history", "item_metrics_history", "audit_trail"))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # statements counted in-process
def test_rows_of_an_aggregate_created_in_the_batch_are_neither_read_nor_deleted_and_one_is_read_on_demand(
    counting: tuple[Database, Counting],
) -> None:
    db, projection = counting
    old, new = uuid4(), uuid4()
    with db.write(TABLES) as tx, tx.batched():
        projection.apply(tx, [_event(1, old, first=True)])

    def sent(batch: list[Recorded]) -> tuple[int, int]:
        """(reads, deletes) sent to apply `batch` in a transaction of its own."""
        with db.write(TABLES) as tx:
            statements = _Statements(tx.raw)
            projection.apply(Tx(statements, tx.dialect, TABLES), batch)
        return sum(s.startswith("SELECT") for s in statements.sent), sum(
            s.startswith("DELETE") for s in statements.sent
        )

    assert sent([_event(2, new, first=True), _event(3, new)]) == (0, 0), "created here: nothing stored"
    # A changed row is upserted, not deleted first: its table is keyed by its primary key (ADR 0056).
    assert sent([_event(4, old)]) == (1, 0), "one item: only the table its handler reads, on demand"
    assert sent([_event(5, old), _event(6, new)]) == (2, 0), "two items: one read per table, prefetched"
    latest, seen = _rows(db)
    assert sorted((r["item_id"] == new, r["count"]) for r in latest) == [(False, 3), (True, 3)]
    assert sorted((r["item_id"] == new, r["count"]) for r in seen) == [
        (False, 1), (False, 2), (False, 3), (True, 1), (True, 2), (True, 3),
    ]  # fmt: skip


@given(st.lists(st.uuids() | st.text(max_size=6) | st.integers(), min_size=1, max_size=3).map(tuple))
def test_replaced_rows_are_written_in_the_order_of_their_keys_text(key: tuple[object, ...]) -> None:
    # The order of row locks (projections/rows.py) is the order of `str(key)`, its ids' text cached.
    assert _locking_order(key) == str(key)
