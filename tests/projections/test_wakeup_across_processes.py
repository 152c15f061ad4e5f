"""Another process's commit wakes caught-up projections at once, not at their poll.

On SQLite through the file's data version (projections/wakeup_sqlite.py), on PostgreSQL
through LISTEN (projections/wakeup.py).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from nm_workflow.application.log_signal import LogSignal
from nm_workflow.application.store import EventStore
from projections.wakeup_sqlite import DataVersionWatcher
from tests.projections.conftest import SupervisorFactory
from tests.projections.test_tables import live_one_life

DEADLINE = 10.0
CLI = str(Path(sys.executable).with_name("nm-workflow"))
NEVER = 60.0  # longer than every deadline below: reaching the head in time means woken, not polled


def test_a_commit_of_another_process_wakes_caught_up_projections(
    store: EventStore, start_supervisor: SupervisorFactory
) -> None:
    supervisor = start_supervisor(projection_poll_interval=NEVER)
    _, position = live_one_life(store)
    assert supervisor.wait_for(position, timeout=10)  # caught up: now it sleeps
    assert store.head() == position

    env = {**os.environ, "NM_DATA_DIR": str(store.settings.data_dir)}
    if store.settings.database_url is not None:
        env["NM_DATABASE_URL"] = store.settings.database_url
    subprocess.run(  # another process appends one event to the log: a key issued
        [CLI, "keys", "create", "--actor", "ann", "--role", "editor", "--department", "marketing"],
        env=env,
        check=True,
        capture_output=True,
    )
    head = store.head()
    assert head > position

    assert supervisor.wait_for(head, ["audit_trail"], timeout=10)


def test_a_process_on_standby_watches_no_appends_and_follows_them_once_it_takes_over(
    store: EventStore, start_supervisor: SupervisorFactory
) -> None:
    """A standby process has no reader to wake: its LISTEN (or SQLite watcher) took a wake-up per
    commit of every process from the requests it served (ADR 0062). Taking over, it follows again."""
    started = [start_supervisor(projection_poll_interval=NEVER) for _ in range(2)]
    _, position = live_one_life(store)
    assert started[0].wait_for(position, timeout=DEADLINE)
    deadline = time.monotonic() + DEADLINE
    while not any(supervisor.watching for supervisor in started):  # the owner's watch connects
        assert time.monotonic() < deadline
        time.sleep(0.01)
    owner, standby = sorted(started, key=lambda supervisor: not supervisor.watching)
    assert {row.state for row in standby.status()} == {"standby"}
    live_one_life(store, plan_key="plan-2")
    time.sleep(0.3)  # the appends and the owner's batches: the standby process still watches nothing
    assert not standby.watching

    owner.stop()
    deadline = time.monotonic() + DEADLINE
    while not standby.watching:  # its next claim (every STANDBY_SECONDS) takes the projections over
        assert time.monotonic() < deadline
        time.sleep(0.01)
    _, position = live_one_life(store, plan_key="plan-3")
    assert standby.wait_for(position, timeout=DEADLINE)  # woken by the watch: its poll is NEVER


def _commit(path: Path) -> None:
    """One committed write to the SQLite file at `path` (made if missing, in WAL mode as the store's)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE IF NOT EXISTS log (n INTEGER)")
        connection.execute("INSERT INTO log VALUES (1)")
    finally:
        connection.close()


@contextlib.contextmanager
def _watching(path: Path) -> Iterator[LogSignal]:
    """A DataVersionWatcher of the SQLite file at `path` (made first), following it; its signal."""
    _commit(path)
    signal = LogSignal()
    watcher = DataVersionWatcher(path, signal, lock_timeout=5)
    watcher.want(True)
    watcher.start()
    try:
        assert watcher.following.wait(DEADLINE)
        yield signal
    finally:
        watcher.stop()


def test_the_sqlite_watcher_follows_a_file_deleted_and_made_again(tmp_path: Path) -> None:
    """Its connection would go on watching the deleted file, whose version never changes again."""
    path = tmp_path / "nm-workflow.sqlite3"
    with _watching(path) as signal:
        seen = signal.count
        _commit(path)
        assert signal.wait(seen, DEADLINE) != seen  # the file as first opened: woken

        seen = signal.count
        for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            part.unlink(missing_ok=True)
        _commit(path)  # a new file (a new inode: the watcher holds the old one open)
        assert signal.wait(seen, DEADLINE) != seen  # the new file opened, and looked at once

        seen = signal.count
        _commit(path)
        assert signal.wait(seen, DEADLINE) != seen  # its commits wake the watcher


def test_a_commit_made_while_nobody_waited_wakes_the_next_wait(tmp_path: Path) -> None:
    """The watcher reads only while the reader waits (ADR 0051): a commit made while the reader was
    busy still wakes its next wait, since the version then differs from the one read last."""
    path = tmp_path / "nm-workflow.sqlite3"
    with _watching(path) as signal:
        deadline = time.monotonic() + DEADLINE
        while signal.count == 0:  # its look once opened; not by waiting, which would make it look again
            assert time.monotonic() < deadline
        seen = signal.count
        _commit(path)  # the reader is busy: nobody waits, the watcher does not look
        assert signal.wait(seen, DEADLINE) != seen  # the next wait is woken by that commit
