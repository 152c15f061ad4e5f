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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import REGISTRY

from nm_workflow.application import sqlite_turns, sqlite_writers
from nm_workflow.application.settings import Settings
from nm_workflow.application.sqlite_writers import LOCK_FILE_SUFFIX
from nm_workflow.application.store import EventStore
from projections.database import Database
from tests.integration.test_event_store import planned_item
from tests.support.waiting import DEADLINE

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the turn is SQLite's
HELD, WAITED = "nm_sqlite_write_turn_held_seconds", "nm_sqlite_write_turn_wait_seconds"
HOLD = 0.2
WAIT = 0.3  # how long a contended write waits for the turn


def sample(name: str, **labels: str) -> tuple[float, float]:
    """(count, sum) of a histogram in this process."""
    count = REGISTRY.get_sample_value(f"{name}_count", labels) or 0.0
    return count, REGISTRY.get_sample_value(f"{name}_sum", labels) or 0.0


def held(writer: str) -> tuple[float, float]:
    return sample(HELD, writer=writer)


def grown(before: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    return {w: (held(w)[0] - c, held(w)[1] - s) for w, (c, s) in before.items()}


class LateToWake(threading.Event):
    """A grant its writer sees `late` seconds after it was made (its interpreter busy meanwhile)."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late

    def wait(self, timeout: float | None = None) -> bool:
        granted = super().wait(timeout)
        if granted:
            time.sleep(self.late)
        return granted


@contextmanager
def contended(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, late: float = 0.0
) -> Iterator[Callable[[Callable[[], object]], None]]:
    """The file's turn held through another open file (as another process would); what it yields
    runs a write on a thread of its own and gives the turn up WAIT seconds after the write began to
    wait for it (its process's waiting thread has it in hand), then waits for the write."""
    waiting = threading.Event()
    made = sqlite_turns._Turn.__init__

    def noted(turn: Any, descriptor: int) -> None:
        made(turn, descriptor)
        if late:
            turn.granted = LateToWake(late)
        waiting.set()

    monkeypatch.setattr(sqlite_turns._Turn, "__init__", noted)
    other = os.open(f"{settings.sqlite_path}{LOCK_FILE_SUFFIX}", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)

    def run(write: Callable[[], object]) -> None:
        failed: list[BaseException] = []

        def writing() -> None:
            try:
                write()
            except BaseException as error:
                failed.append(error)

        writer = threading.Thread(target=writing)
        writer.start()
        assert waiting.wait(DEADLINE), "the write never waited for the turn"
        time.sleep(WAIT)
        fcntl.flock(other, fcntl.LOCK_UN)
        writer.join(DEADLINE)
        assert not writer.is_alive()
        assert not failed, failed

    try:
        yield run
    finally:
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


def test_the_wait_for_the_turn_is_not_counted_as_held(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EventStore(settings)
    try:
        store.record(planned_item())
        before, waits = {"store": held("store")}, sample(WAITED)
        with contended(settings, monkeypatch) as run:
            run(lambda: store.record(planned_item()))
        count, seconds = grown(before)["store"]
        assert count == 1
        assert seconds < WAIT, "only the time after the turn came"
        assert sample(WAITED)[1] - waits[1] >= WAIT, "the wait is the wait metric's"
    finally:
        store.close()


def test_the_turn_is_held_from_when_the_lock_was_granted_not_from_when_its_writer_woke(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a contended turn a waiting thread gets the lock and wakes the writer, which may run only
    # later (its process's interpreter busy with other requests): the file is held meanwhile.
    late = 0.1
    store = EventStore(settings)
    try:
        store.record(planned_item())
        before = {"store": held("store")}
        with contended(settings, monkeypatch, late) as run:
            run(lambda: store.record(planned_item()))
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
