"""Who works a projection: one owner at a time, the others stand by.

Correctness does not depend on this (a batch whose tracking row moved is
rolled back, see tracking.py); it keeps two processes from doing the same work
and lets `status` name the owner. Locks die with their process:
- PostgreSQL: session advisory locks on one dedicated connection per process;
- SQLite: `flock` on a file per lock beside the database file.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
import zlib
from contextlib import suppress
from pathlib import Path
from typing import IO

import psycopg

from nm_workflow.application.errors import StoreUnavailable
from nm_workflow.application.settings import Settings

log = logging.getLogger("projections")
LOCK_CLASS = 0x4E4D  # "NM": the first key of every advisory lock of this service
HEALTH_CHECK_SECONDS = 5.0
REPEAT_WARNING_SECONDS = 60.0  # a lock that keeps failing is logged again at most this often


def lock_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def identity() -> str:
    """Who holds a lock, as `projections status` shows it: host and process id."""
    return f"nm-workflow@{socket.gethostname()}:{os.getpid()}"


class Ownership:
    """Non-blocking, per-process locks named like `projection:item_status`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._mutex = threading.Lock()
        self._held: dict[str, IO[str] | None] = {}
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None
        self._checked = 0.0
        self._last_warning: tuple[str, float] = ("", 0.0)

    def acquire(self, name: str) -> bool:
        """True if this process holds (or just took) the lock."""
        with self._mutex:
            if name in self._held and self._healthy():
                return True
            return self._try(name)

    def acquire_once(self, name: str) -> bool:
        """True if this `Ownership` just took the lock; False when it holds it already (another
        thread of this process works under it) or another process does. For work that one
        holder does at a time (a rebuild), where `acquire`'s re-entry would let a second in."""
        with self._mutex:
            # A connection kept idle between rebuilds may have died: dropped first (with the
            # locks it held), so that a failure on it does not read as someone else's lock.
            self._healthy()
            return name not in self._held and self._try(name)

    def _try(self, name: str) -> bool:
        try:
            return self._take(name)
        except (OSError, psycopg.Error) as error:
            self._drop_connection()
            self._warn(f"cannot take the lock {name}, so the projection waits: {error}")
            return False

    def _warn(self, message: str) -> None:
        last, when = self._last_warning
        if message != last or time.monotonic() - when > REPEAT_WARNING_SECONDS:
            log.warning(message)
            self._last_warning = (message, time.monotonic())

    def release(self, name: str) -> None:
        with self._mutex:
            handle = self._held.pop(name, None)
            if handle is not None:
                handle.close()  # closing the file releases the flock
            elif self._connection is not None:
                try:
                    key = (LOCK_CLASS, lock_key(name))
                    self._connection.execute("SELECT pg_advisory_unlock(%s, %s)", key)
                except psycopg.Error:  # the lock's state unknown: closing the session frees it
                    self._drop_connection()

    def close(self) -> None:
        for name in list(self._held):
            self.release(name)
        with self._mutex:
            self._drop_connection()

    def _take(self, name: str) -> bool:
        if not self._settings.uses_postgres:
            return self._flock(name)
        connection = self._connect()
        row = connection.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, lock_key(name))
        ).fetchone()
        if row is None or not row[0]:
            return False
        self._held[name] = None
        return True

    def _flock(self, name: str) -> bool:
        handle = lock_path(self._settings, name).open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(identity())
        handle.flush()
        self._held[name] = handle
        return True

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._connection is None or self._connection.closed:
            assert self._settings.database_url is not None
            self._connection = psycopg.connect(
                self._settings.database_url,
                autocommit=True,
                connect_timeout=self._settings.db_connect_timeout,
                application_name=identity(),
            )
            self._checked = time.monotonic()
        return self._connection

    def _healthy(self) -> bool:
        # A lost connection lost its locks: forget them, so they are taken again (or by others).
        if self._connection is None or time.monotonic() - self._checked < HEALTH_CHECK_SECONDS:
            return True
        try:
            self._connection.execute("SELECT 1")
            self._checked = time.monotonic()
            return True
        except psycopg.Error:
            self._drop_connection()
            return False

    def _drop_connection(self) -> None:
        if self._connection is not None:
            with suppress(psycopg.Error):
                self._connection.close()
        self._connection = None
        self._held = {name: handle for name, handle in self._held.items() if handle is not None}


def lock_path(settings: Settings, name: str) -> Path:
    folder: Path = settings.data_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name.replace(':', '-')}.lock"


def owner_of(settings: Settings, name: str) -> str | None:
    """Who holds a lock now (None when nobody does)."""
    if settings.uses_postgres:
        return _advisory_owner(settings, name)
    path = lock_path(settings, name)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def _advisory_owner(settings: Settings, name: str) -> str | None:
    assert settings.database_url is not None
    try:
        with psycopg.connect(settings.database_url, connect_timeout=settings.db_connect_timeout) as conn:
            row = conn.execute(
                "SELECT a.application_name, a.pid FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid) "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
                "AND l.objsubid = 2",
                (LOCK_CLASS, lock_key(name)),
            ).fetchone()
    except psycopg.Error as error:
        # libpq's reason is the cause (the command line's one line ends with its first line).
        raise StoreUnavailable(f"Cannot ask the database who runs {name}.") from error
    return None if row is None else f"{row[0] or 'backend'} (backend pid {row[1]})"
