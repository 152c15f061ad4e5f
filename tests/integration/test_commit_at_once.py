"""A lone command on the event loop commits on the loop's thread (ADR 0085), with the real SQLite
store; never while another process holds the file's write turn: then the loop goes on serving,
and the save commits on the committer thread once the turn is free."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
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


async def _ticks_while_saving(store: EventStore, item: ContentItem, free: Callable[[], object]) -> int:
    """Save `item` from the loop while another writer holds on; the loop's ticks meanwhile (20 if it
    was never held), once `free` let the other writer go and the save was committed."""
    saved = asyncio.ensure_future(run_on_loop(lambda: store.record(item)))
    ticks = 0
    while ticks < 20:
        ticks += 1
        await asyncio.sleep(0.005)
    assert not saved.done()
    free()
    await asyncio.wait_for(saved, 30)
    return ticks


def test_a_lone_save_on_the_loop_commits_on_the_loops_thread(
    sqlite_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _saving_threads(sqlite_store, monkeypatch)
    item = drafted(planned_item(), "First")
    asyncio.run(run_on_loop(lambda: sqlite_store.record(item)))
    assert threads == [threading.current_thread().name]
    assert sqlite_store.load(item.id).version == item.version


def test_while_another_process_holds_the_write_turn_the_loop_serves_on_and_the_save_waits_its_turn(
    sqlite_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _saving_threads(sqlite_store, monkeypatch)
    item = drafted(planned_item(), "First")
    # Another open file description of the lock file: its flock excludes the store's as another
    # process's would.
    lock = os.open(sqlite_store.settings.data_dir / (SQLITE_FILE_NAME + LOCK_FILE_SUFFIX), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)

    try:
        free = lambda: fcntl.flock(lock, fcntl.LOCK_UN)  # noqa: E731
        assert asyncio.run(_ticks_while_saving(sqlite_store, item, free)) == 20
    finally:
        os.close(lock)
    assert threads == ["nm-workflow commit"]
    assert sqlite_store.load(item.id).version == item.version


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


def test_while_another_thread_of_the_process_holds_its_writer_connection_the_loop_serves_on(
    sqlite_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _saving_threads(sqlite_store, monkeypatch)
    item = drafted(planned_item(), "First")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # as the embedded projections' batch does, or a snapshot written off the loop
        with sqlite_store.factory.datastore.get_connection(commit=True):  # type: ignore[attr-defined]
            held.set()
            assert release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(30)
    try:
        assert asyncio.run(_ticks_while_saving(sqlite_store, item, release.set)) == 20
    finally:
        release.set()
        holder.join(30)
    assert threads == ["nm-workflow commit"]
    assert sqlite_store.load(item.id).version == item.version


def test_while_a_writer_that_takes_no_turn_holds_the_database_the_loop_serves_on(
    sqlite_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sqlite3 shell, a backup tool or an older release write without the lock file (ADR 0041):
    # SQLite's own busy wait must not run on the loop either.
    threads = _saving_threads(sqlite_store, monkeypatch)
    item = drafted(planned_item(), "First")
    path = sqlite_store.settings.sqlite_path
    foreign = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    foreign.execute("BEGIN IMMEDIATE")
    try:
        assert asyncio.run(_ticks_while_saving(sqlite_store, item, lambda: foreign.execute("ROLLBACK"))) == 20
    finally:
        foreign.close()
    assert threads == ["nm-workflow commit"]
    assert sqlite_store.load(item.id).version == item.version
    # SQLite's busy wait is back for a write that may wait (a caller on a thread, the connection the
    # refused attempt had): it waits the other writer out rather than failing at once.
    foreign = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    foreign.execute("BEGIN IMMEDIATE")
    ended = threading.Timer(0.2, lambda: foreign.execute("ROLLBACK"))
    ended.start()
    try:
        sqlite_store.record(drafted(item, "Second"))
    finally:
        ended.join()
        foreign.close()
    assert sqlite_store.load(item.id).version == item.version
