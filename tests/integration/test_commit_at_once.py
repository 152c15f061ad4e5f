"""A lone command on the event loop commits on the loop's thread (ADR 0085), with the real SQLite
store; never while another writer holds on (another process's turn, another thread's writer
connection, a writer that takes no turn): then the loop goes on serving, and the save commits on
the committer thread once the other writer is done."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from nm_workflow.application.errors import ConcurrentModification
from nm_workflow.application.loop_bridge import run_on_loop
from nm_workflow.application.settings import Settings
from nm_workflow.application.settings_database import SQLITE_FILE_NAME
from nm_workflow.application.sqlite_writers import LOCK_FILE_SUFFIX
from nm_workflow.application.store import EventStore
from nm_workflow.domain.content_item import ContentItem
from tests.integration.test_event_store import drafted, planned_item


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[EventStore]:
    store = EventStore(Settings(data_dir=tmp_path / "data", database_url=None))
    yield store
    store.close()


def _saving_threads(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads the store's saves committed on, in order (an attempt refused before
    it began is not a save)."""
    threads: list[str] = []
    insert_events = store.recorder.insert_events

    def recorded(stored_events: Sequence[Any], **kwargs: Any) -> Any:
        ids = insert_events(stored_events, **kwargs)
        threads.append(threading.current_thread().name)
        return ids

    monkeypatch.setattr(store.recorder, "insert_events", recorded)
    return threads


async def _longest_pause_while_saving(
    store: EventStore, item: ContentItem, free: Callable[[], object]
) -> float:
    """Save `item` from the loop while another writer holds on, then `free` it: the longest the
    loop went without running another task meanwhile (seconds; a wait for the other writer on the
    loop would last the lock timeout, 5 s)."""
    loop = asyncio.get_running_loop()
    saved = asyncio.ensure_future(run_on_loop(lambda: store.record(item)))
    longest, last = 0.0, loop.time()
    for _ in range(20):
        await asyncio.sleep(0.005)
        longest, last = max(longest, loop.time() - last), loop.time()
    assert not saved.done()  # it waits for the other writer, off the loop
    free()
    await asyncio.wait_for(saved, 30)
    return longest


def _busy_timeouts(store: EventStore) -> set[int]:
    """SQLite's busy timeout (ms) of each idle connection of the store's pool."""
    pool = store.factory.datastore.pool  # type: ignore[attr-defined]
    return {c._sqlite_conn.execute("PRAGMA busy_timeout").fetchone()[0] for c in pool._pool}


def test_a_lone_save_on_the_loop_commits_on_the_loops_thread(
    sqlite_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _saving_threads(sqlite_store, monkeypatch)
    item = drafted(planned_item(), "First")
    asyncio.run(run_on_loop(lambda: sqlite_store.record(item)))
    assert threads == [threading.current_thread().name]
    assert sqlite_store.load(item.id).version == item.version
    assert _busy_timeouts(sqlite_store) == {5000}  # SQLite's busy wait back for the writes that may wait


def test_a_conflict_in_a_save_at_once_is_the_callers_error_and_writes_nothing(
    sqlite_store: EventStore,
) -> None:
    item = drafted(planned_item(), "First")
    sqlite_store.record(item)
    head = sqlite_store.head()
    stale = sqlite_store.load(item.id)
    drafted(item, "Second")
    drafted(stale, "Also second")
    asyncio.run(run_on_loop(lambda: sqlite_store.record(item)))
    with pytest.raises(ConcurrentModification):
        asyncio.run(run_on_loop(lambda: sqlite_store.record(stale)))
    assert sqlite_store.head() == head + 1
    assert sqlite_store.load(item.id).version == item.version


@contextmanager
def _turn_held(store: EventStore) -> Iterator[Callable[[], object]]:
    """The file's write turn held as another process holds it (another open file description of the
    lock file: its flock excludes the store's); yields what frees it."""
    lock = os.open(store.settings.data_dir / (SQLITE_FILE_NAME + LOCK_FILE_SUFFIX), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        yield lambda: fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        os.close(lock)


@contextmanager
def _writer_connection_held(store: EventStore) -> Iterator[Callable[[], object]]:
    """The process's writer connection held by another thread, as the embedded projections' batch
    holds it, or a snapshot written off the loop."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.factory.datastore.get_connection(commit=True):  # type: ignore[attr-defined]
            held.set()
            assert release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(30)
    try:
        yield release.set
    finally:
        release.set()
        holder.join(30)


@contextmanager
def _database_locked(store: EventStore) -> Iterator[Callable[[], object]]:
    """SQLite's write lock held by a writer that takes no turn (the sqlite3 shell, a backup tool, an
    older release: ADR 0041): SQLite's own busy wait must not run on the loop either."""
    foreign = sqlite3.connect(store.settings.sqlite_path, isolation_level=None, check_same_thread=False)
    foreign.execute("BEGIN IMMEDIATE")
    try:
        yield lambda: foreign.execute("ROLLBACK")
    finally:
        foreign.close()


@pytest.mark.parametrize("held", [_turn_held, _writer_connection_held, _database_locked])
def test_while_another_writer_holds_on_the_loop_serves_on_and_the_save_commits_on_the_thread(
    held: Callable[[EventStore], AbstractContextManager[Callable[[], object]]],
    sqlite_store: EventStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads = _saving_threads(sqlite_store, monkeypatch)
    item = drafted(planned_item(), "First")
    with held(sqlite_store) as free:
        assert asyncio.run(_longest_pause_while_saving(sqlite_store, item, free)) < 2
    assert threads == ["nm-workflow commit"]
    assert sqlite_store.load(item.id).version == item.version
    assert _busy_timeouts(sqlite_store) == {5000}  # back for the writes that may wait
