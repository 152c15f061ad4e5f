"""The SQLite connections of one process: a lean pool in place of the library's (ADR 0064).

Every read and every write of a command takes a connection from the pool and gives it back. The
library's pool (`eventsourcing.persistence.ConnectionPool`) serves any database and any use: each
get passes a "fairness" semaphore (Python's `Semaphore`, a `Condition` around a lock), counts its
readers under another `Condition`, reads the clock three times; each put notifies a `Condition`
whether or not anyone waits: about 40,000 machine instructions a get and put, and a command
makes two (its read and its save). This one takes about 12,000 (docs/performance-history.md,
"SQLite: the command's connections (ADR 0064)"), and keeps what the store needs of a pool, each
step a C-level lock or container operation when nothing has to wait:

- At most `pool_size + max_overflow` connections in use; one more request waits up to
  `pool_timeout` for a connection to come back, then fails with the library's
  `ConnectionUnavailableError` (an OperationalError: the store says StoreBusy).
- One writer connection at a time within the process (the writer lock, taken before the file's
  write turn of ADR 0041), waited for up to `pool_timeout`, with the same error past it.
- At most `pool_size` idle connections kept, the last one given back handed out first; one that
  was closed (by its `max_age` timer, or by a caller that could not restore its settings: see
  projections/database.py) is never handed out again.
- `close()` closes every connection, in use or idle, as the library's does.

What it drops is the semaphore, which ordered requests first come, first served, and so made
every reader wait behind a writer that waited for the writer lock: on a file in WAL mode a reader
needs no writer's leave. Writers still queue on the writer lock. In-memory databases, where
readers and writers exclude each other, keep the library's pool (sqlite_writers.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from eventsourcing.persistence import (
    ConnectionNotFromPoolError,
    ConnectionPoolClosedError,
    ConnectionUnavailableError,
)
from eventsourcing.sqlite import SQLiteConnection

from nm_workflow.application.sqlite_statements import StatementCachingPool


class LeanSQLitePool(StatementCachingPool):
    """The library's SQLite pool's settings and connections, lent out without its interlocking."""

    def __init__(self, **settings: Any) -> None:  # the library's pool's keywords
        # Before the library's constructor: its `__del__` closes the pool, this one's way.
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)
        self._waiting = 0  # requests waiting in `_returned`: a put notifies only when there are some
        super().__init__(**settings)

    @property
    def num_in_use(self) -> int:
        with self._lock:
            return len(self._in_use)

    @property
    def num_in_pool(self) -> int:
        with self._lock:
            return len(self._pool)

    def get_connection(
        self, timeout: float | None = None, *, is_writer: bool | None = None
    ) -> SQLiteConnection:
        if self._closed:
            raise ConnectionPoolClosedError
        wait = self.pool_timeout if timeout is None else timeout
        started = None
        if is_writer and not self._writer_lock.acquire(blocking=False):
            started = time.monotonic()  # the clock is read only when something has to wait
            if not self._writer_lock.acquire(timeout=wait):
                raise ConnectionUnavailableError("Timed out waiting for return of writer")
        try:
            connection = self._lend(wait, started)
        except BaseException:
            if is_writer:
                self._writer_lock.release()
            raise
        connection.is_writer = is_writer
        return connection

    def put_connection(self, conn: SQLiteConnection) -> None:
        is_writer, conn.is_writer = conn.is_writer, None
        try:
            with self._lock:
                if self._closed:
                    raise ConnectionPoolClosedError("Pool is closed")
                if self._in_use.pop(id(conn), None) is None:
                    raise ConnectionNotFromPoolError("Connection not in use in this pool")
                if not conn.closed:
                    # `closing` is set only by the max-age timer: not asked when there is none.
                    expired = self.max_age is not None and conn.closing
                    if expired or len(self._pool) >= self.pool_size:
                        conn.close()
                    else:
                        self._pool.append(conn)
                conn.in_use.release()  # the max-age timer may close it now
                if self._waiting:
                    self._returned.notify()
        finally:
            if is_writer:
                self._writer_lock.release()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            for conn in [*self._in_use.values(), *self._pool]:
                conn.close()
            self._pool.clear()
            self._closed = True
            self._returned.notify_all()  # waiters fail at once rather than at their timeout

    def _lend(self, wait: float, started: float | None) -> SQLiteConnection:
        """An idle connection, else a new one while fewer than the bound are in use, else the
        first one given back within `wait` seconds of `started` (now if None)."""
        with self._lock:
            while True:
                if self._closed:
                    raise ConnectionPoolClosedError
                if self._pool:
                    conn = self._pool.pop()
                    conn.in_use.acquire()  # the max-age timer leaves it open while it is lent
                    if conn.closed or (self.pre_ping and not _answers(conn)):
                        continue  # closed by its timer while idle, or broken: forgotten
                    break
                if len(self._in_use) < self.pool_size + self.max_overflow:
                    conn = self._create_connection()  # made locked for use
                    break
                started = time.monotonic() if started is None else started
                remaining = wait + started - time.monotonic()
                self._waiting += 1
                try:
                    returned = remaining > 0 and self._returned.wait(remaining)
                finally:
                    self._waiting -= 1
                if not returned:
                    raise ConnectionUnavailableError("Timed out waiting for return of connection")
            self._in_use[id(conn)] = conn
            return conn


def _answers(conn: SQLiteConnection) -> bool:
    """The library's pre-ping: a connection that cannot run `SELECT 1` is closed."""
    try:
        conn.cursor().execute("SELECT 1")
    except Exception:
        conn.close()
        return False
    return True
