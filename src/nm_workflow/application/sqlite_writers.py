"""SQLite writers of several processes take turns on a lock file instead of sleeping (ADR 0041).

SQLite lets one connection write at a time. A writer that finds the database locked waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10, ... up to 100 ms between attempts: with two
worker processes writing, a waiter sleeps on long after the lock came free, and both processes
idle. Within a process the connection pool already queues writers (one writer connection at
a time: sqlite_pool.py). Across processes, this module adds a queue: every write transaction of
the store's datastore (event saves, snapshots, projection batches, side tables, schema set-up:
all take a writer connection from the pool) first takes an exclusive `flock` on the file
`<database>-write.lock` beside the database, and releases it after its commit or rollback. A
blocked `flock` is woken by the kernel the moment the holder releases it (the lock itself:
sqlite_turns.py). A write that must not wait (write_now.py, ADR 0085) takes the process's writer
connection and the file's turn only if both are free at once, and otherwise raises TurnTaken.

The lock only orders writers: SQLite's own locking still guarantees atomicity, so a process
that does not take it (an older version, the sqlite3 shell) is still safe, just not queued.
A process that dies holding the lock releases it with its descriptor. In-memory databases
have no file and one process: they are left as the library makes them.

The wait is bounded by the store's lock timeout (`NM_DB_LOCK_TIMEOUT`, the same as SQLite's
busy timeout); past it the write fails with the library's OperationalError "database is
locked ...", which the store reports as StoreBusy (503 `store-busy`).
"""

from __future__ import annotations

import sqlite3
import time
from contextvars import ContextVar
from typing import Any, Literal

from eventsourcing.persistence import ConnectionUnavailableError
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)
from eventsourcing.utils import Environment

from nm_workflow.application.metrics import (
    SQLITE_WRITE_TURN_HELD_SECONDS,
    child,
)
from nm_workflow.application.sqlite_pool import LeanSQLitePool
from nm_workflow.application.sqlite_statements import StatementCachingPool
from nm_workflow.application.sqlite_turns import WriteTurns, observe
from nm_workflow.application.write_now import TurnTaken, may_wait

LOCK_FILE_SUFFIX = "-write.lock"
Writer = Literal["store", "projections"]
STORE: Writer = "store"
PROJECTIONS: Writer = "projections"
"""Writers as `nm_sqlite_write_turn_held_seconds` names them: the read side's batches and rebuilds
(projections/database.py), and every other write (commands' saves, snapshots, side tables, tables
and trackings made through the library)."""

WAITING_SINCE: ContextVar[float | None] = ContextVar("nm_workflow_write_waiting_since", default=None)
"""When the writes about to begin started to wait (`time.monotonic()`), where that was before their
transaction: the oldest command of a group commit's batch (store.py). The process's writer
connection and the file's turn are waited for within NM_DB_LOCK_TIMEOUT of it, together: a
command queued behind a batch that waited for the lock does not wait the whole timeout again."""


class QueuedSQLiteDatastore(SQLiteDatastore):
    """The library's SQLite datastore whose writer connections come with the file's write turn,
    whose connections keep their prepared statements (sqlite_statements.py), and whose pool of a
    file lends them without the library's interlocking (sqlite_pool.py)."""

    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        memory = self.pool.is_sqlite_memory_mode
        # In memory, readers and writers exclude each other: the library's interlocking (ADR 0064).
        self.pool = (StatementCachingPool if memory else LeanSQLitePool).like(self.pool)
        timeout = self.pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT
        self.turns = None if memory else WriteTurns(db_name + LOCK_FILE_SUFFIX, timeout)

    # The library declares its generators' own types; these blocks are entered and left alike.
    def get_connection(self, *, commit: bool, writer: Writer = STORE) -> _Connection:  # type: ignore[override]
        """A connection for one block; `writer` names a writer's turn in the held-time metric."""
        return _Connection(self, commit, writer)

    def transaction(self, *, commit: bool) -> _Transaction:  # type: ignore[override]
        return _Transaction(_Connection(self, commit), commit)


class _Connection:
    """A connection of the pool for one block, a writer's with the file's write turn: taken after
    the connection (the pool's writer lock first), given back before it.

    A class rather than the library's `@contextmanager` generator wrapped in another: every read
    and write of a command takes one (domain/context_values.py says why).
    """

    __slots__ = ("_commit", "_connection", "_datastore", "_held_since", "_turn", "_writer", "at_once")

    def __init__(self, datastore: QueuedSQLiteDatastore, commit: bool, writer: Writer = STORE) -> None:
        self._datastore, self._commit, self._writer = datastore, commit, writer
        self._turn: int | None = None
        self.at_once = commit and not may_wait()
        """A write that must not wait (write_now.py): taken at once, or TurnTaken."""

    def __enter__(self) -> SQLiteConnection:
        datastore = self._datastore
        if self.at_once:
            return self._enter_at_once()
        if not self._commit or datastore.turns is None:
            self._connection = datastore.pool.get_connection(is_writer=self._commit)
            return self._connection
        # One bound for both waits, the process's writer connection and the file's turn, from when
        # the write began to wait: waited one after the other, each for the whole timeout, a write
        # queued behind others took several times NM_DB_LOCK_TIMEOUT to fail.
        since = WAITING_SINCE.get()
        if since is None:
            began, wait = time.monotonic(), None  # None: the pool's timeout, NM_DB_LOCK_TIMEOUT
        else:
            began, wait = since, max(datastore.pool.pool_timeout - (time.monotonic() - since), 0.0)
        self._connection = connection = datastore.pool.get_connection(wait, is_writer=True)
        try:
            self._turn, self._held_since = datastore.turns.take(began)
        except BaseException:
            datastore.pool.put_connection(connection)
            raise
        return connection

    @property
    def busy_seconds(self) -> float:
        """SQLite's busy timeout of the datastore's connections (NM_DB_LOCK_TIMEOUT)."""
        return self._datastore.pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT

    def _enter_at_once(self) -> SQLiteConnection:
        """`__enter__` of a write that must not wait (write_now.py): TurnTaken when this process's
        writer connection or the file's write turn is taken."""
        datastore = self._datastore
        try:
            self._connection = connection = datastore.pool.get_connection(0.0, is_writer=True)
        except ConnectionUnavailableError:
            raise TurnTaken("another writer of this process holds its writer connection") from None
        if datastore.turns is None:  # in memory: one process, its writers queued by the pool
            return connection
        try:
            taken = datastore.turns.take_if_free()
            if taken is None:
                raise TurnTaken("another process holds the write turn")
        except BaseException:
            datastore.pool.put_connection(connection)
            raise
        self._turn, self._held_since = taken
        return connection

    def __exit__(self, *_: object) -> None:
        try:
            if self._turn is not None:
                held = time.monotonic() - self._held_since
                WriteTurns.give_back(self._turn)  # first: a metric's failure must not keep the turn
                observe(child(SQLITE_WRITE_TURN_HELD_SECONDS, self._writer), held)
        finally:
            self._datastore.pool.put_connection(self._connection)


class _Transaction:
    """The library's transaction on a connection of the pool, as a class: its `BEGIN` and its
    cursor (closed after the block), its commit or rollback with errors mapped to the library's
    (`SQLiteTransaction`), then the connection given back. The library nests two generators for
    it; every save takes one (domain/context_values.py says why)."""

    __slots__ = ("_commit", "_connection", "_cursor", "_transaction")

    def __init__(self, connection: _Connection, commit: bool) -> None:
        self._connection, self._commit = connection, commit

    def __enter__(self) -> SQLiteCursor:
        connection = self._connection.__enter__()
        try:
            self._transaction = SQLiteTransaction(connection, commit=self._commit)
            self._cursor = (
                _begun_at_once(self._transaction, self._connection.busy_seconds)
                if self._connection.at_once
                else self._transaction.__enter__()
            )
        except BaseException:
            self._connection.__exit__()
            raise
        return self._cursor

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        try:
            try:
                self._cursor.__exit__(kind, error, traceback)
            except BaseException as closing:  # still ended (rolled back) before the error goes on
                self._transaction.__exit__(type(closing), closing, closing.__traceback__)
                raise
            self._transaction.__exit__(kind, error, traceback)
        finally:
            self._connection.__exit__()


_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _begun_at_once(transaction: SQLiteTransaction, busy_seconds: float) -> SQLiteCursor:
    """`BEGIN IMMEDIATE` without SQLite's busy wait: TurnTaken, nothing begun, when a writer that does
    not take the turn (the sqlite3 shell, a backup tool, an older release: ADR 0041) holds the
    database's write lock; the commit then goes to the committer thread, which may wait. The wait
    is only for that lock (a commit in WAL mode waits for nobody), so the busy timeout is set back
    at once: two settings of the connection, no work of the database's. Another error is raised as
    the library's, as the library's own BEGIN would have it; a connection whose busy timeout could
    not be set back is closed, not lent again."""
    connection, reset = transaction.connection, False
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 0")
        try:
            cursor.execute("BEGIN IMMEDIATE")
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {round(busy_seconds * 1000)}")
            reset = True
    except sqlite3.Error as error:
        if reset and isinstance(error, sqlite3.OperationalError) and error.sqlite_errorcode & 0xFF in _BUSY:
            raise TurnTaken(f"another writer holds the database's write lock ({error})") from None
        try:
            transaction.__exit__(type(error), error, error.__traceback__)  # rolled back, and raised
        finally:
            if not reset:
                connection.close()
        raise  # (not reached: the library raised its own error above)
    return cursor


class QueuedSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory with `QueuedSQLiteDatastore` (PERSISTENCE_MODULE, as a topic)."""

    def __init__(self, env: Environment | Any) -> None:
        super().__init__(env)
        made = self.datastore
        # The library's constructor builds its datastore inline; the same settings, queued. A writer
        # waits as long for its process's writer connection as for the file (the library: 5 s).
        lock_timeout = made.pool.lock_timeout
        self.datastore = QueuedSQLiteDatastore(
            made.pool.db_name,
            lock_timeout=lock_timeout,
            pool_timeout=float(lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT),
            single_row_tracking=made.single_row_tracking,
            originator_id_type=made.originator_id_type,
        )
        made.close()
