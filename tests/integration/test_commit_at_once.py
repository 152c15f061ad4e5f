"""A lone command on the event loop commits on the loop's thread (ADR 0085), with the real SQLite
store; never while another process holds the file's write turn: then the loop goes on serving,
and the save commits on the committer thread once the turn is free."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from nm_workflow.application.errors import ConcurrentModification
from nm_workflow.application.loop_bridge import run_on_loop
from nm_workflow.application.settings import Settings
from nm_workflow.application.settings_database import SQLITE_FILE_NAME
from nm_workflow.application.sqlite_writers import LOCK_FILE_SUFFIX
from nm_workflow.application.store import EventStore
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

    async def main() -> int:
        saved = asyncio.ensure_future(run_on_loop(lambda: sqlite_store.record(item)))
        ticks = 0
        while ticks < 20:  # the loop is not held by the save waiting for its turn
            ticks += 1
            await asyncio.sleep(0.005)
        assert not saved.done()
        fcntl.flock(lock, fcntl.LOCK_UN)
        await asyncio.wait_for(saved, 30)
        return ticks

    try:
        assert asyncio.run(main()) == 20
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
