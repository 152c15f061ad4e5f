"""The runner's batches commit without waiting for the disk, the store's saves wait (ADR 0052);
a batch an operating system's crash loses is applied again from its tracking, to the same rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import ReadModel
from projections.batches import Builder, SharedReader
from projections.registry import NAMES
from projections.sql import POSTGRES, Tx
from tests.projections.scenario import Scenario, snapshot

Seen = tuple[object, str]
"""A connection's identity and its commit's durability, as the database reports it."""

_POSTGRES_SEEN = "SELECT pg_backend_pid() AS who, current_setting('synchronous_commit') AS level"


def _runner(read_model: ReadModel) -> tuple[list[Builder], SharedReader]:
    """The builders and shared reader of every projection, as a runner makes them (runner.py)."""
    rm = read_model
    builders = [Builder(rm.projections[name], rm.recorders[name], rm.db, rm.source, 500) for name in NAMES]
    return builders, SharedReader(builders, rm.db, rm.source, 500)


def _caught_up(read_model: ReadModel) -> None:
    builders, reader = _runner(read_model)
    while reader.step(builders):
        pass


def _seen_in_batch(tx: Tx) -> Seen:
    if tx.dialect is POSTGRES:
        row = tx.one(_POSTGRES_SEEN)
        assert row is not None
        return row["who"], str(row["level"])
    row = tx.one("PRAGMA synchronous")
    assert row is not None
    return id(tx.raw.sqlite_cursor.connection), str(row["synchronous"])


def _seen_by_save(connection: Any) -> Seen:
    if isinstance(connection, psycopg.Connection):
        row = connection.execute(_POSTGRES_SEEN).fetchone()  # the pool's rows are dicts
        assert row is not None
        return row["who"], str(row["level"])
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous")
    return id(cursor.sqlite_cursor.connection), str(cursor.fetchone()[0])


def _spy_on_saves(datastore: Any, monkeypatch: pytest.MonkeyPatch, seen: list[Seen]) -> None:
    """Record every connection the store's datastore hands out, as the save then gets it."""
    handed_out: Callable[..., Any] = datastore.get_connection

    @contextmanager
    def spied(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with handed_out(*args, **kwargs) as connection:
            seen.append(_seen_by_save(connection))
            yield connection

    monkeypatch.setattr(datastore, "get_connection", spied)


def test_a_batch_commits_lazily_and_a_save_on_its_connection_afterwards_durably(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    if settings.database_url is not None:  # the tests' server is fast: durable, as in use
        with psycopg.connect(settings.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = on").format(
                sql.Identifier(admin.info.dbname)))  # fmt: skip
    store = EventStore(settings)  # its connections opened after: the database's setting
    read_model = ReadModel(settings, store)
    lazy, durable = ("off", "on") if settings.database_url else ("1", "2")  # SQLite: NORMAL, FULL
    try:
        scenario = Scenario(store, seed=52)
        scenario.run(items=2, open_at_once=2)
        in_batches: list[Seen] = []
        applied = Builder.apply

        def apply(self: Builder, tx: Tx, *args: Any) -> int:
            in_batches.append(_seen_in_batch(tx))
            return applied(self, tx, *args)

        with monkeypatch.context() as patched:
            patched.setattr(Builder, "apply", apply)
            _caught_up(read_model)  # the runner's shared batch
            scenario.run(items=3, open_at_once=1)
            builders, _ = _runner(read_model)
            builders[0].step()  # and a projection's batch alone (after a failure)
        assert {level for _, level in in_batches} == {lazy}
        batch_connection = in_batches[-1][0]

        saves: list[Seen] = []
        _spy_on_saves(store.factory.datastore, monkeypatch, saves)  # type: ignore[attr-defined]
        for _ in range(50):  # the pool hands its connections out in turn: until the batch's comes
            scenario.run(items=scenario.planned + 1, open_at_once=1, finish=False)
            if any(who == batch_connection for who, _ in saves):
                break
        assert any(who == batch_connection for who, _ in saves), "the batch's connection never saved"
        assert {level for _, level in saves} == {durable}, "a save committed without waiting for the disk"
    finally:
        read_model.close()
        store.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_batch_lost_after_its_commit_is_applied_again_to_the_same_rows(
    store: EventStore, read_model: ReadModel
) -> None:
    scenario = Scenario(store, seed=53)
    scenario.run(items=3, open_at_once=2)
    _caught_up(read_model)
    scenario.run(items=6, open_at_once=3)  # durable events the next batch applies
    tables = [t for name, p in read_model.projections.items()
              for t in (*p.tables, read_model.recorders[name].tracking_table_name)]  # fmt: skip
    with read_model.db.write({}) as tx:  # what the disk holds if the next batch's commit is lost
        for table in tables:
            tx.execute(f"CREATE TABLE lost_{table} AS SELECT * FROM {table}")
    _caught_up(read_model)
    applied = snapshot(read_model)
    with read_model.db.write({}) as tx:  # the crash: the rows and trackings as they were before it
        for table in tables:
            tx.execute(f"DELETE FROM {table}")
            tx.execute(f"INSERT INTO {table} SELECT * FROM lost_{table}")
    assert snapshot(read_model) != applied
    _caught_up(read_model)  # a runner that starts again after the crash
    assert snapshot(read_model) == applied
