"""The store's SQLite connections keep their prepared statements, as durable as the library's own."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import InterfaceError
from eventsourcing.sqlite import SQLiteConnectionPool, SQLiteDatastore

from nm_workflow.application.settings import Settings
from nm_workflow.application.sqlite_statements import StatementCachingPool
from nm_workflow.application.store import EventStore


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[EventStore]:
    store = EventStore(Settings(data_dir=tmp_path / "data", database_url=None, embedded_projections=False))
    yield store
    store.close()


def _raw(datastore: SQLiteDatastore, *, commit: bool) -> Iterator[sqlite3.Connection]:
    with datastore.get_connection(commit=commit) as connection:
        yield connection._sqlite_conn  # the library's wrapper keeps the sqlite3 connection here


def test_a_statement_run_again_after_others_is_not_prepared_again(sqlite_store: EventStore) -> None:
    # SQLite calls the authorizer while it prepares a statement (SQLITE_SELECT once for a SELECT),
    # never when it runs one.
    prepared: list[int] = []

    def authorize(action: int, *_: object) -> int:
        prepared.append(action)
        return sqlite3.SQLITE_OK

    for raw in _raw(sqlite_store.factory.datastore, commit=False):  # type: ignore[attr-defined]
        raw.set_authorizer(authorize)
        for _ in range(3):
            raw.execute("SELECT count(*) FROM stored_events").fetchall()
            raw.execute("SELECT max(rowid) FROM stored_events").fetchall()
            raw.execute("SELECT count(*) FROM event_chain").fetchall()
        raw.set_authorizer(None)
    assert prepared.count(sqlite3.SQLITE_SELECT) == 3  # each of the three once, not three times


def test_a_kept_statement_follows_a_table_replaced_by_renaming(sqlite_store: EventStore) -> None:
    # A rebuild swaps its tables in by renaming them (ADR 0043): a kept statement reads the new one.
    for raw in _raw(sqlite_store.factory.datastore, commit=True):  # type: ignore[attr-defined]
        raw.execute("CREATE TABLE kept (n integer)")
        raw.execute("INSERT INTO kept VALUES (1)")
        assert raw.execute("SELECT n FROM kept").fetchall()[0][0] == 1
        raw.execute("CREATE TABLE kept__rebuild (n integer, extra text)")
        raw.execute("INSERT INTO kept__rebuild VALUES (2, 'x')")
        raw.execute("ALTER TABLE kept RENAME TO kept__old")
        raw.execute("ALTER TABLE kept__rebuild RENAME TO kept")
        assert raw.execute("SELECT n FROM kept").fetchall()[0][0] == 2


def test_the_connections_commit_as_durably_as_the_librarys_own(
    sqlite_store: EventStore, tmp_path: Path
) -> None:
    library = SQLiteDatastore(str(tmp_path / "library.sqlite3"))
    try:
        settings = {}
        for datastore in (sqlite_store.factory.datastore, library):  # type: ignore[attr-defined]
            for raw in _raw(datastore, commit=True):
                pragmas = [raw.execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous")]
                settings[datastore is library] = (*pragmas, raw.row_factory, raw.isolation_level)
        # WAL, synchronous FULL (2): every commit reaches the disk, as the plain way's do.
        assert settings[False] == settings[True] == ("wal", 2, sqlite3.Row, None)
    finally:
        library.close()


def test_the_pool_takes_every_setting_of_the_library_s_pool(tmp_path: Path) -> None:
    settings = {"db_name": str(tmp_path / "x.sqlite3"), "lock_timeout": 7, "pool_size": 3, "max_overflow": 4,
                "pool_timeout": 2.5, "max_age": 60.0, "pre_ping": True}  # fmt: skip
    made = StatementCachingPool.like(SQLiteConnectionPool(**settings))  # type: ignore[arg-type]
    assert {name: getattr(made, name) for name in settings} == settings


def test_a_file_that_cannot_keep_a_write_ahead_log_is_refused_with_why(tmp_path: Path) -> None:
    # SQLite's dot-file VFS shares no memory: asked for WAL, it answers with the mode it keeps.
    pool = StatementCachingPool(db_name=f"file:{tmp_path / 'x.sqlite3'}?vfs=unix-dotfile")
    with pytest.raises(InterfaceError, match=r"cannot keep a write-ahead log.*'delete'.*NM_DATA_DIR"):
        pool.get_connection()
    assert not pool.is_journal_mode_wal
