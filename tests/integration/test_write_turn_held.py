"""How long SQLite writers hold the file's write turn, by writer (`nm_sqlite_write_turn_held_seconds`).

The sum's rate is the share of the time the file's one writer slot is taken: what an operator
reads to see how busy it is and whose writes take it. It must count the time from the moment
the turn is granted to the commit or rollback, by the writer that held it, and never the time
spent waiting for it; and measuring it must never keep the turn.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import REGISTRY

from nm_workflow.application import sqlite_writers
from nm_workflow.application.settings import Settings
from nm_workflow.application.sqlite_writers import LOCK_FILE_SUFFIX
from nm_workflow.application.store import EventStore
from projections.database import Database
from tests.integration.test_event_store import planned_item

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the turn is SQLite's
HELD, WAITED = "nm_sqlite_write_turn_held_seconds", "nm_sqlite_write_turn_wait_seconds"
HOLD = 0.2


def sample(name: str, **labels: str) -> tuple[float, float]:
    """(count, sum) of a histogram in this process."""
    count = REGISTRY.get_sample_value(f"{name}_count", labels) or 0.0
    return count, REGISTRY.get_sample_value(f"{name}_sum", labels) or 0.0


def held(writer: str) -> tuple[float, float]:
    return sample(HELD, writer=writer)


def grown(before: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    return {w: (held(w)[0] - c, held(w)[1] - s) for w, (c, s) in before.items()}


@contextmanager
def turn_held_elsewhere(settings: Settings, seconds: float) -> Iterator[None]:
    """The file's turn held through another open file (as another process would) for `seconds`."""
    other = os.open(f"{settings.sqlite_path}{LOCK_FILE_SUFFIX}", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    release = threading.Timer(seconds, fcntl.flock, (other, fcntl.LOCK_UN))
    release.start()
    try:
        yield
    finally:
        release.join()
        os.close(other)


def test_each_write_is_counted_for_its_writer_from_its_turn_to_its_commit(settings: Settings) -> None:
    store = EventStore(settings)
    try:
        store.record(planned_item())  # the schema's writes first
        before = {"store": held("store"), "projections": held("projections")}
        item = planned_item()
        store.record(item)
        with Database(store).write({}) as tx:
            tx.execute("SELECT 1")
            time.sleep(HOLD)
        assert len(store.stored_events(item.id)) == 1  # a read takes no turn
        moved = grown(before)
        assert moved["store"][0] == 1, "one save, one held turn"
        assert moved["projections"][0] == 1
        assert HOLD <= moved["projections"][1] < HOLD + 5, "the block's time, the sleep included"
        assert moved["store"][1] < HOLD, "the save's own time, not the projections' block"
    finally:
        store.close()


def held_then_refused(db: Database) -> None:
    with db.write({}) as tx:
        tx.execute("SELECT 1")
        time.sleep(HOLD)
        raise RuntimeError("refused")


def test_a_rolled_back_write_is_counted_too(settings: Settings) -> None:
    store = EventStore(settings)
    try:
        store.record(planned_item())
        before = {"projections": held("projections")}
        with pytest.raises(RuntimeError, match="refused"):
            held_then_refused(Database(store))
        count, seconds = grown(before)["projections"]
        assert count == 1
        assert seconds >= HOLD
    finally:
        store.close()


def test_the_wait_for_the_turn_is_not_counted_as_held(settings: Settings) -> None:
    store = EventStore(settings)
    try:
        store.record(planned_item())
        before, waits = {"store": held("store")}, sample(WAITED)
        with turn_held_elsewhere(settings, HOLD):
            waited = time.monotonic()
            store.record(planned_item())
            assert time.monotonic() - waited >= HOLD, "the save waited for the other holder"
        count, seconds = grown(before)["store"]
        assert count == 1
        assert seconds < HOLD, "only the time after the turn came"
        assert sample(WAITED)[1] - waits[1] >= HOLD * 0.9, "the wait is the wait metric's"
    finally:
        store.close()


def test_the_turn_is_held_from_when_the_lock_was_granted_not_from_when_its_writer_woke(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a contended turn a waiting thread gets the lock and wakes the writer, which may run only
    # later (its process's interpreter busy with other requests): the file is held meanwhile.
    late = 0.1

    class LateToWake(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            granted = super().wait(timeout)
            if granted:
                time.sleep(late)
            return granted

    made = sqlite_writers._Turn.__init__

    def with_a_late_writer(turn: Any, descriptor: int) -> None:
        made(turn, descriptor)
        turn.granted = LateToWake()

    monkeypatch.setattr(sqlite_writers._Turn, "__init__", with_a_late_writer)
    store = EventStore(settings)
    try:
        store.record(planned_item())
        before = {"store": held("store")}
        with turn_held_elsewhere(settings, HOLD):
            store.record(planned_item())
        count, seconds = grown(before)["store"]
        assert count == 1
        assert seconds >= late, "the writer's late wake-up is held time"
    finally:
        store.close()


def test_a_metric_that_fails_neither_keeps_the_turn_nor_fails_the_write(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def observe(self, _: float) -> None:
            raise OSError("no space left for the metrics file")

    store = EventStore(settings)
    try:
        store.record(planned_item())
        monkeypatch.setattr(sqlite_writers, "child", lambda *_: Broken())
        item = planned_item()
        store.record(item)  # committed, and answered so
        assert [e.originator_version for e in store.stored_events(item.id)] == [1]
        other = os.open(f"{settings.sqlite_path}{LOCK_FILE_SUFFIX}", os.O_RDWR)
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if kept
        finally:
            os.close(other)
    finally:
        store.close()
