"""A second OS process on the test's SQLite file (run as `python -m tests.e2e.sqlite_writer_process`).

hold DATA_DIR            open a write transaction, print "holding", then wait to be killed
write DATA_DIR N         run the projections; print "ready", wait for a line on stdin, then
                         save N new items from 2 threads; print the number saved and exit
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections.runner import ProjectionSupervisor
from tests.integration.test_event_store import planned_item

THREADS = 2


def hold(store: EventStore) -> None:
    with store.factory.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute("UPDATE stored_events SET topic = topic WHERE 0")  # takes SQLite's write lock too
        print("holding", flush=True)
        time.sleep(600)


def write(settings: Settings, store: EventStore, count: int) -> None:
    supervisor = ProjectionSupervisor(settings, store=store)
    supervisor.start()
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        saved: list[int] = []

        def save(n: int) -> None:
            for _ in range(n):
                store.record(planned_item())
                saved.append(1)

        threads = [threading.Thread(target=save, args=(count // THREADS,)) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(len(saved), flush=True)
    finally:
        supervisor.stop()


def main() -> None:
    mode, data_dir = sys.argv[1], Path(sys.argv[2])
    settings = Settings(data_dir=data_dir)
    store = EventStore(settings)
    try:
        if mode == "hold":
            hold(store)
        else:
            write(settings, store, int(sys.argv[3]))
    finally:
        store.close()


if __name__ == "__main__":
    main()
