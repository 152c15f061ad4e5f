"""Peak memory of the service after many events stored and projected.

Stores `--events` events in bulk (items of 10 events, 100 items per
transaction), then starts `nm-workflow serve` (one worker, embedded projections)
on them and waits until every projection has reached the log head. Reported:
the server's peak resident memory (VmHWM) then, in MB, beside the trivial
endpoint's server at rest in the same run (the floor of Python, FastAPI and
uvicorn on this machine).

    python -m bench.memory [--events 20000] [--database-url postgresql://...]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench import load
from bench.history import drafted_item
from bench.report import main
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import ReadModel

ITEM_EVENTS = 10
ITEMS_PER_SAVE = 100
CATCH_UP_LIMIT = 3600.0  # seconds


def store_events(settings: Settings, events: int) -> int:
    """Store about `events` events (whole items of 10); the log head."""
    store = EventStore(settings)
    try:
        items = -(-events // ITEM_EVENTS)
        for first in range(0, items, ITEMS_PER_SAVE):
            saved = min(ITEMS_PER_SAVE, items - first)
            store.record(*(drafted_item(ITEM_EVENTS, body="B" * 200) for _ in range(saved)))
        return store.head()
    finally:
        store.close()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size so far (Linux: VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"No VmHWM for process {pid}.")


def run(settings: Settings, events: int) -> dict[str, float]:
    """Peak RSS in MB: the trivial server at rest first, then the service after projecting the events."""
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        with load.serving("trivial", 1, settings, Path(folder) / "trivial") as (_, trivial):
            results["baseline: the trivial endpoint's server at rest"] = peak_rss_mb(trivial[0])
        head = store_events(settings, events)
        read_model = ReadModel(settings)
        try:
            with load.serving("nm-workflow", 1, settings, Path(folder) / "service") as (_, service):
                started = time.monotonic()
                while any(row.lag for row in read_model.status()):
                    if time.monotonic() - started > CATCH_UP_LIMIT:
                        raise TimeoutError(f"The projections did not reach {head} in {CATCH_UP_LIMIT} s.")
                    time.sleep(0.5)
                results[f"nm-workflow after {head} events stored and projected"] = peak_rss_mb(service[0])
        finally:
            read_model.close()
    return results


if __name__ == "__main__":
    main(__doc__, ("events", 20_000, "events to store and project"), run, "MB", larger_costs=True)
