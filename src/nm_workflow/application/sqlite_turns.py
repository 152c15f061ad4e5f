"""The file's write turn: one SQLite writer at a time across processes, queued by `flock` (ADR 0041).

Every write transaction of the store's datastore takes the turn (sqlite_writers.py says which and
why); this module is the lock itself: `WriteTurns.take` waits for it, on a daemon thread so that
the wait can be bounded by the lock timeout, `take_if_free` only takes it when nobody holds it
(a write that must not wait: write_now.py, ADR 0085), and `give_back` ends it. How long each write
waited is observed in `nm_sqlite_write_turn_wait_seconds`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
import time

from eventsourcing.persistence import OperationalError
from prometheus_client import Histogram

from nm_workflow.application.metrics import SQLITE_WRITE_TURN_WAIT_SECONDS

log = logging.getLogger(__name__)


def observe(histogram: Histogram, seconds: float) -> None:
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
        taken = self.take_if_free()
        if taken is not None:
            return taken
        started, descriptor = time.monotonic(), self._open()
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
        observe(SQLITE_WRITE_TURN_WAIT_SECONDS, turn.granted_at - started)
        return descriptor, turn.granted_at

    def take_if_free(self) -> tuple[int, float] | None:
        """`take`'s answer if the turn is free now; None, nothing waited for, when it is taken."""
        descriptor = self._open()
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        except OSError as error:
            raise OperationalError(f"Cannot lock {self.path}: {error}") from error
        observe(SQLITE_WRITE_TURN_WAIT_SECONDS, 0.0)
        return descriptor, time.monotonic()

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
