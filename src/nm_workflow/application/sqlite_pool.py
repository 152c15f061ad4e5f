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
- At the bound, first come, first served: while anyone waits, every request joins the line (a
  thread giving a connection back and asking again at once would otherwise starve a waiter).

What it drops is the semaphore, which ordered every request, and so made every reader wait behind
a writer that waited for the writer lock: on a file in WAL mode a reader needs no writer's leave.
Writers still queue on the writer lock, before the line. In-memory databases, where
readers and writers exclude each other, keep the library's pool (sqlite_writers.py).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from eventsourcing.persistence import (
    ConnectionNotFromPoolError,
    ConnectionPoolClosedError,
    ConnectionUnavailableError,
)
from eventsourcing.sqlite import SQLiteConnection

from nm_workflow.application.sqlite_statements import StatementCachingPool


class LeanSQLitePool(StatementCachingPool):
    """The library's SQLite pool's settings and connections, lent out without its interlocking.

    Requests are served at once while nobody waits; once one waits, every request queues behind
    it and they are served first come, first served (so a thread that gives a connection back and
    asks again at once cannot keep taking it ahead of a waiting one).
    """

    def __init__(self, **settings: Any) -> None:  # the library's pool's keywords
        # Before the library's constructor: its `__del__` closes the pool, this one's way.
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)
        self._line: deque[object] = deque()  # the requests waiting for a connection, oldest first
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
        """A connection, a writer's (`is_writer`) only once no other writer of this process holds
        one; waits up to `timeout` seconds (the pool's `pool_timeout` if None).

        Raises ConnectionUnavailableError past the wait, ConnectionPoolClosedError once closed.
        """
        if self._closed:
            raise ConnectionPoolClosedError
        wait = self.pool_timeout if timeout is None else timeout
        started = None
        writer = False
        try:
            if is_writer:
                if not self._writer_lock.acquire(blocking=False):
                    started = time.monotonic()  # the clock is read only when something has to wait
                    if not self._writer_lock.acquire(timeout=wait):
                        raise ConnectionUnavailableError("Timed out waiting for return of writer")
                writer = True
            connection = self._lend(wait, started)
        except BaseException:
            if writer:
                self._writer_lock.release()
            raise
        connection.is_writer = is_writer
        return connection

    def put_connection(self, conn: SQLiteConnection) -> None:
        """Take back a connection this pool lent: kept idle (up to `pool_size`) or closed.

        Raises ConnectionPoolClosedError once closed, ConnectionNotFromPoolError for a connection
        not lent by this pool (whose writer turn, if any, is then not this pool's to end).
        """
        is_writer, conn.is_writer = conn.is_writer, None
        ours = False
        try:
            with self._lock:
                ours = self._in_use.pop(id(conn), None) is not None
                if self._closed:
                    raise ConnectionPoolClosedError("Pool is closed")
                if not ours:
                    raise ConnectionNotFromPoolError("Connection not in use in this pool")
                try:
                    if not conn.closed:
                        # `closing` is set only by the max-age timer: not asked when there is none.
                        expired = self.max_age is not None and conn.closing
                        if expired or len(self._pool) >= self.pool_size:
                            conn.close()
                        else:
                            self._pool.append(conn)
                finally:
                    conn.in_use.release()  # the max-age timer may close it now
                if self._line:
                    self._returned.notify_all()  # the oldest waiter takes it (the others wait on)
        finally:
            if is_writer and ours:
                self._writer_lock.release()

    def close(self) -> None:
        """Close every connection, lent or idle; requests waiting for a connection fail at once
        (a writer waiting for another writer's turn fails at its timeout)."""
        with self._lock:
            if self._closed:
                return
            for conn in [*self._in_use.values(), *self._pool]:
                conn.close()
            self._pool.clear()
            self._closed = True
            self._returned.notify_all()

    def _lend(self, wait: float, started: float | None) -> SQLiteConnection:
        """An idle connection, else a new one while fewer than the bound are in use, at once when
        nobody waits; else the request joins the line and is served in its turn, within `wait`
        seconds of `started` (now if None)."""
        with self._lock:
            conn = None if self._line else self._available()
            if conn is None:
                conn = self._in_turn(wait, time.monotonic() if started is None else started)
            self._in_use[id(conn)] = conn
            return conn

    def _in_turn(self, wait: float, started: float) -> SQLiteConnection:
        """Wait in line (the lock held but while waiting) for the first connection available once
        every earlier request has had one."""
        me = object()
        self._line.append(me)
        try:
            while True:
                if self._closed:
                    raise ConnectionPoolClosedError
                if self._line[0] is me and (conn := self._available()) is not None:
                    return conn
                remaining = wait + started - time.monotonic()
                if remaining <= 0:
                    raise ConnectionUnavailableError("Timed out waiting for return of connection")
                self._returned.wait(remaining)
        finally:
            first = self._line[0] is me
            self._line.remove(me)
            if first and self._line:
                self._returned.notify_all()  # served or gone: the next in line may go now

    def _available(self) -> SQLiteConnection | None:
        """An idle connection that answers, else a new one if the bound allows, else None."""
        while self._pool:
            conn = self._pool.pop()
            conn.in_use.acquire()  # the max-age timer leaves it open while it is lent
            if not conn.closed and (not self.pre_ping or _answers(conn)):
                return conn
            # closed by its timer while idle, or broken: forgotten
        if len(self._in_use) < self.pool_size + self.max_overflow:
            return self._create_connection()  # made locked for use
        return None


def _answers(conn: SQLiteConnection) -> bool:
    """The library's pre-ping: a connection that cannot run `SELECT 1` is closed."""
    try:
        conn.cursor().execute("SELECT 1")
    except Exception:
        conn.close()
        return False
    return True
