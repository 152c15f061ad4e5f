"""A signal that the log grew, for threads of the same process to wait on instead of polling.

The event store counts its saves (`EventStore.appended`); the projections' reader
waits on that count between batches, so a caught-up reader wakes as soon as this
process commits, and costs nothing while nothing is written. Other processes'
commits reach it through PostgreSQL's LISTEN (projections/wakeup.py) or SQLite's
data version (projections/wakeup_sqlite.py), else through the reader's fallback poll.
"""

from __future__ import annotations

import threading


class LogSignal:
    """A count of appends that threads can wait on; `wait` never misses one counted after `seen`."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._count = 0

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
            self._changed.wait_for(lambda: self._count != seen, timeout)
            return self._count
