"""Waking the projections when another process appends to the log: PostgreSQL's LISTEN.

The library's PostgreSQL recorder already sends `NOTIFY <events table>` in every
append's transaction (eventsourcing 9.5, `_insert_stored_events`), so listening
adds nothing to the commit path. One connection per process listens, in a
thread of its own, and turns each notification into a `LogSignal` the reader
waits on; only while the process owns a projection (`want`): a process on
standby has no reader to wake, and its listener took a wake-up per commit of
every process from the requests it serves (ADR 0062). If the connection breaks, the reader still polls every
`NM_PROJECTION_POLL_INTERVAL` seconds, and the listener reconnects with backoff.
SQLite has nothing to listen to: wakeup_sqlite.py watches its data version instead.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from nm_workflow.application.log_signal import LogSignal
from nm_workflow.application.store import EventStore

log = logging.getLogger("projections")
CHECK_STOP_SECONDS = 0.25  # how often the listening thread looks whether it should stop (stop waits for it)
MAX_BACKOFF_SECONDS = 10.0


class AppendWatch:
    """A thread that signals `signal` whenever another process commits to the log; the how: `_follow`.

    It watches only while wanted (`want`, off at first). `_follow` sets `following` once it sees
    commits, signals once (commits made while not following are not lost), and returns once
    `watching()` is false. If it raises one of `errors` the failure is logged and it is called
    again after a backoff (0.5 s doubling to 10 s); meanwhile the reader's poll finds the appends.
    """

    errors: tuple[type[Exception], ...] = ()
    what = "Watching for appends"

    def __init__(self, signal: LogSignal, name: str) -> None:
        self._signal = signal
        self._stopping = threading.Event()
        self._wanted = threading.Event()
        self.following = threading.Event()
        """Set while commits are seen (tests wait on it)."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(CHECK_STOP_SECONDS * 5)

    def want(self, wanted: bool) -> None:
        """Watch (True) or not (False): whether a reader of this process has appends to wait for."""
        if wanted:
            self._wanted.set()
        else:
            self._wanted.clear()

    def watching(self) -> bool:
        """Whether `_follow` should go on: wanted and not stopping."""
        return self._wanted.is_set() and not self._stopping.is_set()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            if not self._wanted.wait(CHECK_STOP_SECONDS):
                continue
            try:
                self._follow()
            except self.errors as error:
                if self.following.is_set():  # it had worked: a fresh break, not an outage going on
                    backoff = 0.5
                self.following.clear()
                log.warning("%s failed (%s); polling until it is back", self.what, error)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            else:
                self.following.clear()

    def _follow(self) -> None:
        raise NotImplementedError


class LogListener(AppendWatch):
    """Signals `signal` whenever any process commits to `store`'s log (PostgreSQL)."""

    errors = (psycopg.Error,)
    what = "Listening for appends"

    def __init__(self, store: EventStore, signal: LogSignal) -> None:
        super().__init__(signal, "projection-listener")
        recorder = store.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        kwargs = recorder.datastore.pool.kwargs
        assert isinstance(kwargs, dict)  # the library passes a dict, not a callable
        self._connect = dict(kwargs, autocommit=True, connect_timeout=store.settings.db_connect_timeout)
        self._listen = sql.SQL("LISTEN {}").format(sql.Identifier(recorder.channel_name))

    def _follow(self) -> None:
        with psycopg.connect(**self._connect) as connection:
            connection.execute(self._listen)
            self.following.set()
            self._signal.notify()  # appends while not listening are not lost: look once
            while self.watching():
                for _ in connection.notifies(timeout=CHECK_STOP_SECONDS):
                    self._signal.notify()
                    if not self.watching():
                        return
