"""The event store's database as the projections use it: write and read transactions.

A write transaction takes the write lock first (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the
transaction's settings in its first statement); a read transaction is one consistent snapshot.
Statements inside them go through `Tx` (sql.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache

from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteConnection, SQLiteCursor, SQLiteTransaction

from nm_workflow.application.sqlite_writers import PROJECTIONS, QueuedSQLiteDatastore
from nm_workflow.application.store import EventStore
from projections.sql import POSTGRES, SQLITE, Tx

log = logging.getLogger("projections")


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
        # The service's store: on SQLite always its own datastore (application/sqlite_writers.py).
        if not isinstance(datastore, QueuedSQLiteDatastore | PostgresDatastore):
            raise TypeError(f"The projections need the service's datastore, not {type(datastore).__name__}")
        self.datastore: QueuedSQLiteDatastore | PostgresDatastore = datastore
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

        `durable=False`: the commit returns without waiting for its WAL to reach the disk
        (PostgreSQL: `synchronous_commit = off`, this transaction only; SQLite: `synchronous =
        NORMAL` on the connection for this transaction, its own level back before the pool has the
        connection again). For work an operating system's crash may lose because it is redone
        anyway (the runner's batches, redone from their trackings: ADR 0052; a rebuild's shadow
        tables: ADR 0043, third addendum): a later durable commit flushes it too, the WAL being
        written and flushed in order.

        `generic_plans` (PostgreSQL; the runner's batches): the transaction's prepared statements
        use their generic plans. A read by `= ANY($1)` or an INSERT from `unnest`ed arrays
        otherwise stays on custom plans, planned again at every execution (the generic plan's
        guess of ten array elements looks dearer than the custom plan of one), and a batch of one
        command spent about as much of the server's time planning its statements as running
        them (docs/performance-history.md, "The embedded projections' per-batch cost")."""
        if isinstance(self.datastore, QueuedSQLiteDatastore):
            with (
                # Named in the store's held-time metric: the read side's share of the write turn.
                self.datastore.get_connection(commit=True, writer=PROJECTIONS) as conn,
                _synchronous(conn, durable),
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


@contextmanager
def _synchronous(connection: SQLiteConnection, durable: bool) -> Iterator[None]:
    """SQLite: the block's commits not synced (`synchronous = NORMAL`), unless `durable`.

    SQLite keeps the level per connection and refuses to change it inside a transaction, so it is
    lowered before BEGIN and set back to the connection's own (FULL, as the library's and the
    plain way's) after the COMMIT or ROLLBACK, before the pool hands the connection to anyone
    else: a store save never commits at NORMAL. A connection whose level cannot be set back is
    closed, and so never pooled again."""
    if durable:
        yield
        return
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous")
        own = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA synchronous = {_NORMAL}")
    except Exception as error:
        connection.close()
        raise OperationalError(error) from error
    try:
        yield
    finally:
        try:
            cursor.execute(f"PRAGMA synchronous = {own}")
        except Exception:  # the transaction's outcome stands; the connection must not serve again
            log.warning("Cannot set a connection's synchronous level back; closing it", exc_info=True)
            connection.close()


_NORMAL = 1
"""SQLite's `synchronous = NORMAL`: in WAL mode a commit is not synced; a checkpoint still is."""


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
