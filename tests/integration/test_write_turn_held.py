"""How long SQLite writers hold the file's write turn, by writer (`nm_sqlite_write_turn_held_seconds`).

The sum's rate is the share of the time the file's one writer slot is taken: what an operator
reads to tell a saturated SQLite file from a slow process. It must count the time between the
turn and the commit, by the writer that held it, and never the time spent waiting for it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from prometheus_client import REGISTRY

from nm_workflow.application.settings import Settings
from nm_workflow.application.sqlite_writers import LOCK_FILE_SUFFIX
from nm_workflow.application.store import EventStore
from projections.database import Database
from tests.integration.test_event_store import planned_item

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the turn is SQLite's
HELD = "nm_sqlite_write_turn_held_seconds"
HOLD = 0.05


def held(writer: str) -> tuple[float, float]:
    """(count, sum) of the held-time histogram of `writer` in this process."""
    labels = {"writer": writer}
    count = REGISTRY.get_sample_value(f"{HELD}_count", labels) or 0.0
    return count, REGISTRY.get_sample_value(f"{HELD}_sum", labels) or 0.0


def grown(before: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    return {w: (held(w)[0] - c, held(w)[1] - s) for w, (c, s) in before.items()}


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


def test_the_wait_for_the_turn_is_not_counted_as_held(settings: Settings) -> None:
    store = EventStore(settings)
    try:
        store.record(planned_item())
        path = str(settings.sqlite_path) + LOCK_FILE_SUFFIX
        other = os.open(path, os.O_RDWR)  # another open file: its lock excludes the store's
        fcntl.flock(other, fcntl.LOCK_EX)
        threading.Timer(HOLD * 4, fcntl.flock, (other, fcntl.LOCK_UN)).start()
        before = {"store": held("store")}
        waited = time.monotonic()
        store.record(planned_item())
        assert time.monotonic() - waited >= HOLD * 4, "the save waited for the other holder"
        count, seconds = grown(before)["store"]
        assert count == 1
        assert seconds < HOLD * 4, "only the time after the turn came"
        os.close(other)
    finally:
        store.close()
