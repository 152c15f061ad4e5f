"""A signal that the log grew, for threads of the same process to wait on instead of polling.

The event store counts its saves (`EventStore.appended`); the projections' reader
waits on that count between batches, so a caught-up reader wakes as soon as this
process commits, and costs nothing while nothing is written. Other processes'
commits reach it through PostgreSQL's LISTEN (projections/wakeup.py) or SQLite's
data version (projections/wakeup_sqlite.py), else through the reader's fallback poll.
The SQLite watcher looks at the file only while a thread waits here (`awaited`): a reader
busy with a batch or in its gather pause looks at the log next anyway (ADR 0051).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class LogSignal:
    """A count of appends that threads can wait on; `wait` never misses one counted after `seen`."""

    def __init__(self) -> None:
        lock = threading.Lock()
        self._changed = threading.Condition(lock)
        self._awaited = threading.Condition(lock)
        self._count = 0
        self._waiting = 0

    @property
    def count(self) -> int:
        """Appends signalled so far; pass it to `wait` to wait for the next one."""
        return self._count

    def notify(self) -> None:
        """The log grew (called after a commit)."""
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """Block until an append after `seen` is signalled, or `timeout` seconds; the count then."""
        with self._changed:
            self._waiting += 1
            self._awaited.notify_all()
            try:
                self._changed.wait_for(lambda: self._count != seen, timeout)
            finally:
                self._waiting -= 1
            return self._count

    def awaited(self, timeout: float, unless: Callable[[], bool]) -> bool:
        """Block until a thread waits in `wait` (True), `unless()` holds after a `nudge`, or
        `timeout` seconds pass (False): for a watcher that need not look while nobody waits."""
        with self._awaited:
            return self._awaited.wait_for(lambda: self._waiting > 0 or unless(), timeout) and not unless()

    def nudge(self) -> None:
        """Wake the threads in `awaited` to ask their `unless` again (e.g. a watcher told to stop)."""
        with self._awaited:
            self._awaited.notify_all()
