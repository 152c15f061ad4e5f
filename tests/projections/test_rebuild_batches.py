"""A rebuild reads the log through its own transactions (on PostgreSQL in binary) and builds its
shadow tables in large batches (projections/rebuild.py, log_in_tx.py): the same events, and the
same tables."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import NAMES, ReadModel, rebuild
from projections.base import SHADOW_SUFFIX
from projections.log_in_tx import LogInTx
from projections.readside import EventSource
from projections.sql import Tx
from tests.projections.conftest import SupervisorFactory
from tests.projections.scenario import Scenario, snapshot
from tests.projections.test_rebuild_swap import postgres_only


def test_the_log_read_in_a_transaction_is_the_stores_log(store: EventStore, read_model: ReadModel) -> None:
    Scenario(store, seed=5).run(items=6, open_at_once=3)
    head, source, log = store.head(), EventSource(store), LogInTx(store)
    some = read_model.projections["item_metrics"].topics + read_model.projections["item_status"].topics

    def seen(events: list) -> list[tuple[object, ...]]:  # type: ignore[type-arg]
        return [(r.position, r.topic, r.aggregate_id, r.version, r.at, vars(r.event)) for r in events]

    with read_model.db.write({}) as tx:
        assert log.head(tx) == head
        for after, upto, topics, limit in [(0, head, (), 1000), (3, head - 2, (), 7), (0, head, some, 5),
                                           (2, head, some[:1], 1000), (head, head, (), 10)]:  # fmt: skip
            expected = source.read(after, upto, topics, limit)
            assert seen(log.decoded(log.fetch(tx, after, upto, topics, limit))) == seen(expected)
    assert len(source.read(0, head, some[:1], 1000)) > 0


def test_a_rebuild_in_several_shadow_batches_and_a_swap_equals_the_incremental_build(
    store: EventStore,
    make_settings: Callable[..., Settings],
    start_supervisor: SupervisorFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Shadow batches of 7 events, the swap's of 3: an item's rows are read back from the shadow
    # tables by a later batch, and only the first batch may take them for empty.
    monkeypatch.setattr(
        import_module("projections.rebuild"), "SHADOW_BATCH", 7
    )  # the package exports the function
    small = ReadModel(make_settings(projection_batch_size=3), store)
    try:
        Scenario(store, seed=23).run(items=8, open_at_once=4, finish=False)
        start_supervisor(projection_batch_size=50)
        assert small.wait_for(store.head(), timeout=60)
        incremental = snapshot(small)
        for name in NAMES:
            rebuild(small, name)
        assert snapshot(small) == incremental
        assert incremental["item_status"]
        assert incremental["review_history"]
    finally:
        small.close()


def _shadow_tables(read_model: ReadModel) -> list[str]:
    catalog = (
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
        if read_model.db.is_postgres
        else "SELECT name FROM sqlite_master WHERE type = 'table'"
    )
    with read_model.db.read({}) as tx:
        return [row["name"] for row in tx.all(catalog) if row["name"].endswith(SHADOW_SUFFIX)]


def test_no_shadow_table_outlives_a_rebuild_that_succeeds_or_fails(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    Scenario(store, seed=3).run(items=4, open_at_once=2)
    rebuild(read_model, "item_status")
    built = snapshot(read_model, ["item_status"])
    assert built["item_status"]
    assert _shadow_tables(read_model) == []

    def fail(*_: object) -> None:
        raise RuntimeError("handler failed")

    monkeypatch.setattr(read_model.projections["item_status"], "apply", fail)
    with pytest.raises(RuntimeError, match="handler failed"):
        rebuild(read_model, "item_status")
    assert _shadow_tables(read_model) == []
    assert snapshot(read_model, ["item_status"]) == built


@postgres_only
def test_a_rebuild_reads_the_log_in_binary_on_postgresql(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each event's state as its bytes, not hex text decoded by the client (ADR 0060); the events
    # the same, as the test above shows.
    Scenario(store, seed=6).run(items=2, open_at_once=2)
    formats: list[set[int]] = []
    own_cursor = Tx.own_cursor

    class Reader:
        """A cursor that notes the formats of the log's rows it reads (its five columns)."""

        def __init__(self, cursor: Any) -> None:
            self.cursor = cursor

        def __getattr__(self, name: str) -> Any:
            return getattr(self.cursor, name)

        def execute(self, *args: Any, **options: Any) -> Any:
            done = self.cursor.execute(*args, **options)
            result = self.cursor.pgresult
            if result is not None and result.nfields == 5:
                formats.append({result.fformat(column) for column in range(result.nfields)})
            return done

    def spied(self: Tx) -> Tx:
        tx = own_cursor(self)
        return Tx(Reader(tx.raw), tx.dialect, tx.tables)

    monkeypatch.setattr(Tx, "own_cursor", spied)
    rebuild(read_model, "audit_trail")
    assert formats == [{1}]  # one batch, every column in binary
