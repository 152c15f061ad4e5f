"""Waking the projections when another process commits to the SQLite file: `PRAGMA data_version`.

SQLite has no LISTEN. Instead a connection of its own, in a thread, asks every
WATCH_SECONDS for the file's data version, a number that changes whenever another
connection (of any process) has committed since this one last asked. In WAL mode
that reads the WAL index in shared memory: no disk access, no lock held, nothing
on the writers' path. A change becomes a `LogSignal`, so a caught-up reader applies
another process's appends within milliseconds instead of at its next poll
(`NM_PROJECTION_POLL_INTERVAL`), which stays as the fallback should the watcher fail.
This process's own commits change it too: one more signal, gathered with the first.
Like the listener it watches only while the process owns a projection (`want`).
A file deleted and made again, or another moved in its place (a restore), is another
file: the connection would go on reading the old one's version and never change, so
every REPLACED_CHECK_EVERY reads the watcher compares the file at the path with the one
it opened (device and inode) and opens the new one.
The SQLite counterpart of `LogListener` (wakeup.py); see ADR 0045.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from nm_workflow.application.log_signal import LogSignal
from projections.wakeup import CHECK_STOP_SECONDS, AppendWatch, log

WATCH_SECONDS = 0.005
REPLACED_CHECK_EVERY = 50
"""Data-version reads between two looks whether the file was replaced: every 0.25 s, a stat each."""


class DataVersionWatcher(AppendWatch):
    """Signals `signal` whenever another connection commits to the SQLite file at `path`."""

    errors = (sqlite3.Error, OSError)  # OSError: the file is gone (deleted, not yet made again)
    what = "Watching the SQLite file for commits"

    def __init__(self, path: Path, signal: LogSignal, lock_timeout: float) -> None:
        super().__init__(signal, "projection-watcher")
        self._path, self._lock_timeout = path, lock_timeout

    def stop(self) -> None:
        self._stopping.set()
        self._signal.nudge()  # out of `awaited` at once
        super().stop()

    def want(self, wanted: bool) -> None:
        if wanted != self._wanted.is_set():  # asked after every claim: nudged only on a change
            super().want(wanted)
            self._signal.nudge()  # unwanted: out of `awaited` at once, its connection closed

    def _unwatched(self) -> bool:
        return not self.watching()

    def _follow(self) -> None:
        # Read-write (WAL readers write the shared-memory index), but never creating the file.
        uri = self._path.resolve().as_uri() + "?mode=rw"
        opened = _identity(self._path)
        connection = sqlite3.connect(uri, uri=True, timeout=self._lock_timeout, isolation_level=None)
        try:
            seen = _data_version(connection)
            if _identity(self._path) != opened:
                return  # replaced while being opened: open the new one
            self.following.set()
            self._signal.notify()  # commits while not watching are not lost: look once
            reads = 0
            while self.watching():
                # Only while the reader waits for appends: busy with a batch or in its gather pause it
                # looks at the log next anyway, and 200 wake-ups a second took the interpreter lock
                # from the requests for nothing (ADR 0051). A commit meanwhile is seen at the next look.
                if not self._signal.awaited(CHECK_STOP_SECONDS, self._unwatched):
                    continue
                time.sleep(WATCH_SECONDS)  # half the CPU of an Event.wait per wake-up, which it is all about
                version = _data_version(connection)
                if version != seen:
                    seen = version
                    self._signal.notify()
                reads += 1
                # The connection holds the old file open: its inode cannot be reused by a new file.
                if reads % REPLACED_CHECK_EVERY == 0 and _identity(self._path) != opened:
                    log.info("The SQLite file %s was replaced; watching the new one", self._path)
                    return
        finally:
            connection.close()


def _data_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA data_version").fetchone()
    return int(row[0])


def _identity(path: Path) -> tuple[int, int]:
    """The file at `path`: (device, inode). Raises OSError when there is none."""
    status = path.stat()
    return status.st_dev, status.st_ino
