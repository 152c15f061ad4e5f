"""Waking the projections when another process commits to the SQLite file: `PRAGMA data_version`.

SQLite has no LISTEN. Instead a connection of its own, in a thread, asks every
WATCH_SECONDS for the file's data version, a number that changes whenever another
connection (of any process) has committed since this one last asked. In WAL mode
that reads the WAL index in shared memory: no disk access, no lock held, nothing
on the writers' path. A change becomes a `LogSignal`, so a caught-up reader applies
another process's appends within milliseconds instead of at its next poll
(`NM_PROJECTION_POLL_INTERVAL`), which stays as the fallback should the watcher fail.
This process's own commits change it too: one more signal, gathered with the first.
The SQLite counterpart of `LogListener` (wakeup.py); see ADR 0045.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from nm_workflow.application.log_signal import LogSignal
from projections.wakeup import AppendWatch

WATCH_SECONDS = 0.005


class DataVersionWatcher(AppendWatch):
    """Signals `signal` whenever another connection commits to the SQLite file at `path`."""

    errors = (sqlite3.Error,)
    what = "Watching the SQLite file for commits"

    def __init__(self, path: Path, signal: LogSignal, lock_timeout: float) -> None:
        super().__init__(signal, "projection-watcher")
        self._path, self._lock_timeout = path, lock_timeout

    def _follow(self) -> None:
        # Read-write (WAL readers write the shared-memory index), but never creating the file.
        uri = self._path.resolve().as_uri() + "?mode=rw"
        connection = sqlite3.connect(uri, uri=True, timeout=self._lock_timeout, isolation_level=None)
        try:
            seen = _data_version(connection)
            self.following.set()
            self._signal.notify()  # commits while not watching are not lost: look once
            while not self._stopping.is_set():
                time.sleep(WATCH_SECONDS)  # half the CPU of an Event.wait per wake-up, which it is all about
                version = _data_version(connection)
                if version != seen:
                    seen = version
                    self._signal.notify()
        finally:
            connection.close()


def _data_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA data_version").fetchone()
    return int(row[0])
