"""A rebuild's fixed costs (ADR 0043, fourth addendum): its lock taken on the read model's
one connection for rebuilds, kept between rebuilds (one rebuild of a projection at a time
within the process too, and a kept connection that died is replaced rather than read as
someone else's lock); the shadow tables and their late indexes made in the shadow batches'
transactions, and on PostgreSQL their creation sent in the first batch's pipeline after the
log's rows."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import psycopg
import pytest

from nm_workflow.application.errors import StoreUnavailable
from nm_workflow.application.store import EventStore
from projections import ReadModel, RebuildRunning, rebuild
from projections.database import Database
from projections.log_in_tx import LogInTx
from projections.sql import Tx
from tests.projections.scenario import Scenario, snapshot
from tests.projections.test_rebuild_swap import _catalog, _leftovers, postgres_only

OWNERSHIP = import_module("projections.ownership")
REBUILD = import_module("projections.rebuild")


def test_a_rebuild_running_in_this_process_refuses_a_second_of_the_same_projection(
    store: EventStore, read_model: ReadModel
) -> None:
    Scenario(store, seed=5).run(items=2, open_at_once=2)
    assert read_model.rebuild_locks.acquire_once("rebuild:audit_trail")  # stands for another thread's rebuild
    try:
        with pytest.raises(RebuildRunning):
            rebuild(read_model, "audit_trail")
        assert not read_model.rebuild_locks.acquire_once("rebuild:audit_trail")
    finally:
        read_model.rebuild_locks.release("rebuild:audit_trail")
    rebuild(read_model, "audit_trail")
    built = snapshot(read_model)
    assert built["audit_trail"]
    rebuild(read_model, "audit_trail")  # the lock released after the first, on the kept connection
    assert snapshot(read_model) == built


# PostgreSQL's session locks live on a connection; SQLite's are files.
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_kept_lock_connection_that_died_is_replaced(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    Scenario(store, seed=6).run(items=1, open_at_once=1)
    rebuild(read_model, "item_status")
    kept = read_model.rebuild_locks._connection
    assert kept is not None
    assert not kept.closed
    assert read_model.settings.database_url is not None
    with psycopg.connect(read_model.settings.database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (kept.info.backend_pid,))
    monkeypatch.setattr(OWNERSHIP, "HEALTH_CHECK_SECONDS", 0.0)  # checked at once, not after 5 s
    rebuild(read_model, "item_status")  # not refused as if another process held the lock
    assert read_model.rebuild_locks._connection is not kept


@pytest.mark.parametrize("items", [0, 2])
def test_the_shadow_tables_and_their_late_indexes_are_made_in_the_batches_transactions(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch, items: int
) -> None:
    # One shadow transaction creates the tables, takes the rows (none on an empty log) and,
    # on PostgreSQL, makes the indexes nothing read meanwhile; then the swap's.
    catalog = _catalog(read_model)
    Scenario(store, seed=7).run(items=items, open_at_once=max(items, 1))
    writes: list[bool] = []
    write = Database.write

    def counted(self: Database, tables: Any, **options: Any) -> Any:
        writes.append(options.get("durable", True))
        return write(self, tables, **options)

    monkeypatch.setattr(Database, "write", counted)
    head = rebuild(read_model, "audit_trail")
    assert writes == [False, True]  # the shadow batch, then the (durable) swap
    assert head == store.head()
    assert _catalog(read_model) == catalog  # every table, index and view by its live name
    assert _leftovers(catalog) == []
    with read_model.db.read({}) as tx:
        row = tx.one("SELECT count(*) AS n FROM audit_trail")
    assert row == {"n": head}


def _made(tx: Tx, table: str) -> bool:
    """Whether the transaction sees the shadow table of `table`."""
    row = tx.one(f"SELECT to_regclass('{table}__rebuild') IS NOT NULL AS made")
    assert row is not None
    return bool(row["made"])


def _scripts(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The DDL scripts a rebuild runs outside its pipelines, each statement up to its columns."""
    scripts: list[list[str]] = []
    executed = REBUILD.execute_all

    def execute_all(tx: Tx, statements: list[str]) -> None:
        scripts.append([statement.split(" (")[0] for statement in statements])
        executed(tx, statements)

    monkeypatch.setattr(REBUILD, "execute_all", execute_all)
    return scripts


@postgres_only
def test_the_shadow_tables_are_made_while_the_events_fetched_are_decoded(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "item_status"  # its batches run in a pipeline
    monkeypatch.setattr(REBUILD, "OVERLAPPED", 1)  # the bench's thousands of events, in a few
    Scenario(store, seed=8).run(items=3, open_at_once=2)
    rebuild(read_model, name)
    incremental = snapshot(read_model, [name])
    made: list[tuple[str, bool]] = []
    fetched = LogInTx.fetch
    projection = read_model.projections[name]
    applied = projection.apply

    def fetch(self: LogInTx, tx: Tx, *args: Any) -> list[Any]:
        rows = fetched(self, tx, *args)
        made.append(("fetched", _made(tx, name)))
        return rows

    def apply(tx: Tx, batch: Any) -> None:
        made.append(("applying", _made(tx, name)))
        applied(tx, batch)

    monkeypatch.setattr(LogInTx, "fetch", fetch)
    monkeypatch.setattr(projection, "apply", apply)
    scripts = _scripts(monkeypatch)
    rebuild(read_model, name)
    assert made == [("fetched", False), ("applying", True)]
    drops = [f"DROP TABLE IF EXISTS {table}__rebuild" for table in projection.tables]
    assert scripts[0] == drops  # the creates went in the pipeline
    assert snapshot(read_model, [name]) == incremental


# item_status with fewer events than OVERLAPPED; audit_trail's rows streamed by COPY (no pipeline).
@pytest.mark.parametrize("name", ["item_status", "audit_trail"])
@postgres_only
def test_a_first_batch_of_few_events_or_without_a_pipeline_makes_its_tables_with_the_drops(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    Scenario(store, seed=11).run(items=2, open_at_once=2)
    assert store.head() < REBUILD.OVERLAPPED  # decoding them would end before the tables are made
    if name == "audit_trail":
        monkeypatch.setattr(REBUILD, "OVERLAPPED", 1)
    rebuild(read_model, name)
    incremental = snapshot(read_model, [name])
    scripts = _scripts(monkeypatch)
    rebuild(read_model, name)
    tables = read_model.projections[name].tables
    drops = [f"DROP TABLE IF EXISTS {table}__rebuild" for table in tables]
    creates = [f"CREATE TABLE IF NOT EXISTS {table}__rebuild" for table in tables]
    assert [s for s in scripts[0] if s.startswith(("DROP", "CREATE TABLE"))] == drops + creates
    assert snapshot(read_model, [name]) == incremental


@postgres_only
def test_a_shadow_table_create_failing_in_the_pipeline_leaves_the_live_tables_as_they_were(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    Scenario(store, seed=9).run(items=3, open_at_once=2)
    rebuild(read_model, "item_status")
    catalog, before = _catalog(read_model), snapshot(read_model, ["item_status"])
    made = REBUILD.creations

    def made_then_failing(*args: Any) -> tuple[list[str], list[str]]:
        tables, indexes = made(*args)
        return [*tables, "CREATE INDEX item_status__rebuild_none ON no_such_table (a)"], indexes

    monkeypatch.setattr(REBUILD, "creations", made_then_failing)
    monkeypatch.setattr(REBUILD, "OVERLAPPED", 1)  # sent in the pipeline
    with pytest.raises(StoreUnavailable) as failed:
        rebuild(read_model, "item_status")
    assert "no_such_table" in str(failed.value.__cause__)  # the create's own error, not another's
    assert _catalog(read_model) == catalog  # no shadow table left, the live ones as they were
    assert snapshot(read_model, ["item_status"]) == before
    monkeypatch.undo()
    Scenario(store, seed=10).run(items=1, open_at_once=1)
    head = rebuild(read_model, "item_status")  # the lock released, nothing in the way
    assert head == store.head()
    assert snapshot(read_model, ["item_status"]) != before
