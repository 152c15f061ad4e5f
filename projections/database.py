"""The event store's database as the projections use it: write and read transactions.

A write transaction takes the write lock first (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the
transaction's settings in its first statement); a read transaction is one consistent snapshot.
Statements inside them go through `Tx` (sql.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache

from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTransaction

from nm_workflow.application.store import EventStore
from projections.sql import POSTGRES, SQLITE, Tx


class _ImmediateTransaction(SQLiteTransaction):
    # BEGIN IMMEDIATE takes SQLite's write lock first: a deferred transaction that
    # reads and then writes fails at once when another process wrote in between.
    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except Exception as error:
            raise OperationalError(error) from error
        return cursor


class Database:
    """The event store's own database, where the projection tables live."""

    def __init__(self, store: EventStore, lock_timeout: int = 10) -> None:
        datastore = store.factory.datastore  # type: ignore[attr-defined]
        self.datastore: SQLiteDatastore | PostgresDatastore = datastore
        self.dialect = POSTGRES if isinstance(datastore, PostgresDatastore) else SQLITE
        self.lock_timeout = lock_timeout

    @property
    def is_postgres(self) -> bool:
        return self.dialect is POSTGRES

    @contextmanager
    def write(
        self, tables: Mapping[str, str], *, durable: bool = True, generic_plans: bool = False
    ) -> Iterator[Tx]:
        """A write transaction: committed when the block ends, rolled back on error.

        `durable=False` (PostgreSQL; SQLite ignores it): the commit returns without waiting for
        its WAL to reach the disk (`synchronous_commit = off`, this transaction only). For work a
        crash may lose because it is redone anyway (a rebuild's shadow tables): a later durable
        commit flushes it too, the WAL being written in order (ADR 0043, third addendum).

        `generic_plans` (PostgreSQL; the runner's batches): the transaction's prepared statements
        use their generic plans. A read by `= ANY($1)` or an INSERT from `unnest`ed arrays
        otherwise stays on custom plans, planned again at every execution (the generic plan's
        guess of ten array elements looks dearer than the custom plan of one), and a batch of one
        command spent about as much of the server's time planning its statements as running
        them (docs/performance-history.md, "The embedded projections' per-batch cost")."""
        if isinstance(self.datastore, SQLiteDatastore):
            with (
                self.datastore.get_connection(commit=True) as conn,
                _ImmediateTransaction(conn, commit=True) as sqlite_cursor,
                sqlite_cursor,
            ):
                yield Tx(sqlite_cursor, self.dialect, tables)
            return
        with self.datastore.transaction(commit=True) as pg_cursor:
            pg_cursor.execute(_write_start(int(self.lock_timeout), durable, generic_plans))
            yield Tx(pg_cursor, self.dialect, tables)

    @contextmanager
    def read(self, tables: Mapping[str, str]) -> Iterator[Tx]:
        """A read-only transaction: one consistent snapshot on both databases.

        On PostgreSQL it first locks `tables` (ACCESS SHARE, in name order, one round trip with
        the isolation level): the snapshot is taken after a rebuild's swap that holds them has
        committed, never before it (the renamed table would be read with an older snapshot)."""
        with self.datastore.transaction(commit=False) as cursor:
            if self.dialect is POSTGRES:
                cursor.execute(_read_start(frozenset(tables.values())))
            yield Tx(cursor, self.dialect, tables)


@lru_cache(maxsize=8)
def _write_start(lock_timeout: int, durable: bool, generic_plans: bool) -> str:
    """The statement that starts a write transaction on PostgreSQL: its settings, for it alone."""
    settings = [("lock_timeout", f"{lock_timeout}s")]
    if not durable:
        settings.append(("synchronous_commit", "off"))
    if generic_plans:
        settings.append(("plan_cache_mode", "force_generic_plan"))
    return "SELECT " + ", ".join(f"set_config('{name}', '{value}', true)" for name, value in settings)


@lru_cache(maxsize=256)
def _read_start(tables: frozenset[str]) -> str:
    start = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    return f"{start}; LOCK TABLE {', '.join(sorted(tables))} IN ACCESS SHARE MODE" if tables else start
