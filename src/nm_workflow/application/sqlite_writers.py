"""SQLite writers of several processes take turns on a lock file instead of sleeping (ADR 0041).

SQLite lets one connection write at a time. A writer that finds the database locked waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10, ... up to 100 ms between attempts: with two
worker processes writing, a waiter sleeps on long after the lock came free, and both processes
idle. Within a process the connection pool already queues writers (one writer connection at
a time: sqlite_pool.py). Across processes, this module adds a queue: every write transaction of
the store's datastore (event saves, snapshots, projection batches, side tables, schema set-up:
all take a writer connection from the pool) first takes an exclusive `flock` on the file
`<database>-write.lock` beside the database, and releases it after its commit or rollback. A
blocked `flock` is woken by the kernel the moment the holder releases it.

The lock only orders writers: SQLite's own locking still guarantees atomicity, so a process
that does not take it (an older version, the sqlite3 shell) is still safe, just not queued.
A process that dies holding the lock releases it with its descriptor. In-memory databases
have no file and one process: they are left as the library makes them.

The wait is bounded by the store's lock timeout (`NM_DB_LOCK_TIMEOUT`, the same as SQLite's
busy timeout); past it the write fails with the library's OperationalError "database is
locked ...", which the store reports as StoreBusy (503 `store-busy`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
import time
from contextvars import ContextVar
from typing import Any, Literal

from eventsourcing.persistence import OperationalError
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)
from eventsourcing.utils import Environment
from prometheus_client import Histogram

from nm_workflow.application.metrics import (
    SQLITE_WRITE_TURN_HELD_SECONDS,
    SQLITE_WRITE_TURN_WAIT_SECONDS,
    child,
)
from nm_workflow.application.sqlite_pool import LeanSQLitePool
from nm_workflow.application.sqlite_statements import StatementCachingPool

log = logging.getLogger(__name__)
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


def _observe(histogram: Histogram, seconds: float) -> None:
    """Observe `seconds`; a failure (a metrics file that cannot grow) is logged, never raised: the
    write it measures has committed, or is about to, and its turn must be given back."""
    try:
        histogram.observe(seconds)
    except Exception:
        log.warning("could not record an SQLite write turn's time", exc_info=True)


class _Turn:
    """One blocking wait for the lock, handed to the waiting thread; settled once, either way."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor
        self.granted = threading.Event()
        self.granted_at = 0.0  # `time.monotonic()` when `flock` returned
        self.error: OSError | None = None
        self._mutex = threading.Lock()
        self._abandoned = False

    def settle(self, error: OSError | None) -> None:
        """Called by the waiting thread once `flock` returned (or failed)."""
        self.granted_at = time.monotonic()  # the lock is held from here, whenever the writer wakes
        with self._mutex:
            if self._abandoned:  # the writer gave up: let the next one have the lock at once
                os.close(self.descriptor)
                return
            self.error = error
            self.granted.set()

    def abandon(self) -> bool:
        """The writer stops waiting; False when the lock was granted meanwhile (it is then held)."""
        with self._mutex:
            if self.granted.is_set():
                return False
            self._abandoned = True
            return True


class WriteTurns:
    """The cross-process write lock of one SQLite file: `take()` blocks until it is this writer's turn.

    Used by one thread of a process at a time (the pool's writer lock is taken first). Waits that
    would block run on one daemon thread, so that the caller can stop waiting after `timeout`
    seconds; an abandoned wait releases the lock as soon as it gets it.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._descriptor: int | None = None
        self._opened_by = 0  # the pid that opened it: a forked child must not share its parent's lock
        self._waits: queue.SimpleQueue[_Turn] = queue.SimpleQueue()
        self._waiter: threading.Thread | None = None

    def take(self, since: float | None = None) -> tuple[int, float]:
        """Block until it is this writer's turn: the descriptor to `give_back` after the commit or
        rollback, and when the lock was granted (`time.monotonic()`: on a contended turn, the
        waiting thread's `flock` returned before this thread ran again). OperationalError
        ("database is locked") once `timeout` s have passed since `since` (a `time.monotonic()`
        reading: when the write began to wait; None: now)."""
        descriptor = self._open()
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        except OSError as error:
            raise OperationalError(f"Cannot lock {self.path}: {error}") from error
        else:
            _observe(SQLITE_WRITE_TURN_WAIT_SECONDS, 0.0)
            return descriptor, time.monotonic()
        started = time.monotonic()
        turn = _Turn(descriptor)
        self._wait_on_thread(turn)
        remaining = self.timeout if since is None else self.timeout - (started - since)
        if not turn.granted.wait(max(remaining, 0.0)) and turn.abandon():
            self._descriptor = None  # the waiting thread closes it; the next writer opens another
            raise OperationalError(
                f"database is locked: no write turn within {self.timeout:g} s (another process writes)"
            )
        if turn.error is not None:
            raise OperationalError(f"Cannot lock {self.path}: {turn.error}") from turn.error
        _observe(SQLITE_WRITE_TURN_WAIT_SECONDS, turn.granted_at - started)
        return descriptor, turn.granted_at

    @staticmethod
    def give_back(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)

    def _open(self) -> int:
        if self._descriptor is None or self._opened_by != os.getpid():
            try:
                self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                raise OperationalError(f"Cannot open the write lock file {self.path}: {error}") from error
            self._opened_by = os.getpid()
        return self._descriptor

    def _wait_on_thread(self, turn: _Turn) -> None:
        if self._waiter is None or not self._waiter.is_alive():  # none yet, or a forked child's
            self._waiter = threading.Thread(target=self._serve_waits, name="sqlite-write-turns", daemon=True)
            self._waiter.start()
        self._waits.put(turn)

    def _serve_waits(self) -> None:
        while True:
            turn = self._waits.get()
            try:
                fcntl.flock(turn.descriptor, fcntl.LOCK_EX)
            except OSError as error:
                turn.settle(error)
            else:
                turn.settle(None)


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

    __slots__ = ("_commit", "_connection", "_datastore", "_held_since", "_turn", "_writer")

    def __init__(self, datastore: QueuedSQLiteDatastore, commit: bool, writer: Writer = STORE) -> None:
        self._datastore, self._commit, self._writer = datastore, commit, writer
        self._turn: int | None = None

    def __enter__(self) -> SQLiteConnection:
        datastore = self._datastore
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

    def __exit__(self, *_: object) -> None:
        try:
            if self._turn is not None:
                held = time.monotonic() - self._held_since
                WriteTurns.give_back(self._turn)  # first: a metric's failure must not keep the turn
                _observe(child(SQLITE_WRITE_TURN_HELD_SECONDS, self._writer), held)
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
            self._cursor = self._transaction.__enter__()
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
