"""Several processes writing one SQLite file take turns on its write lock file (ADR 0041).

The writers are real OS processes (tests/e2e/sqlite_writer_process.py): two saving items
while their projections follow the log, and one holding a write transaction until it is
killed with SIGKILL. Last, in one process: a save kept waiting by another writer of its own.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from nm_workflow.application.audit_verify import verify_log
from nm_workflow.application.errors import StoreBusy
from nm_workflow.application.settings import Settings
from nm_workflow.application.sqlite_turns import WriteTurns
from nm_workflow.application.store import EventStore
from projections.runner import ProjectionSupervisor
from tests.e2e.api import PLAN, Api
from tests.integration.test_event_store import planned_item

ROOT = Path(__file__).resolve().parents[2]
ITEMS_PER_PROCESS = 40
SAY_WITHIN = 120.0
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the lock file is SQLite's


@contextmanager
def writer_process(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`python -m tests.e2e.sqlite_writer_process ARGS`, killed (if still running) at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.sqlite_writer_process", *args],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)


def said(process: subprocess.Popen[str]) -> str:
    """The process's next line of output (it writes one at a time); fails after SAY_WITHIN seconds."""
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], SAY_WITHIN)
    assert readable, f"the writer process said nothing for {SAY_WITHIN} s"
    line = process.stdout.readline().strip()
    if not line:  # it died: show why
        assert process.stderr is not None
        process.wait(60)
        pytest.fail(f"the writer process exited ({process.returncode}): {process.stderr.read()}")
    return line


def test_two_processes_saving_at_once_lose_nothing_and_their_projections_catch_up(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    data_dir = str(settings.data_dir)
    with writer_process("write", data_dir, str(ITEMS_PER_PROCESS)) as first, \
         writer_process("write", data_dir, str(ITEMS_PER_PROCESS)) as second:  # fmt: skip
        assert said(first) == said(second) == "ready"
        for process in (first, second):
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        assert said(first) == said(second) == str(ITEMS_PER_PROCESS)
        for process in (first, second):
            _, errors = process.communicate(timeout=60)
            assert process.returncode == 0, errors
            # Neither a save nor a projection batch failed (they log a warning or a traceback).
            assert "Traceback" not in errors, errors
            assert "WARNING" not in errors.upper(), errors
    store = EventStore(settings)
    supervisor = ProjectionSupervisor(settings, store=store)
    supervisor.start()
    try:
        assert store.head() == 2 * ITEMS_PER_PROCESS
        verification = verify_log(store)
        assert verification.broken is None
        assert verification.checked == 2 * ITEMS_PER_PROCESS
        assert supervisor.wait_for(store.head(), timeout=30)
        assert len(supervisor.read_model.list_items(limit=500).items) == 2 * ITEMS_PER_PROCESS
    finally:
        supervisor.stop()
        store.close()
    assert Path(data_dir, "nm-workflow.sqlite3-write.lock").exists()


def test_a_write_kept_waiting_is_503_store_busy_and_a_killed_holder_frees_the_file(
    app_factory: Callable[..., Api],
) -> None:
    api = app_factory(db_lock_timeout=1)
    marketing = api.marketing  # its key is written now, before the file is held
    state = api.client.app.state  # type: ignore[attr-defined]
    data_dir, head = str(state.settings.data_dir), state.store.head()
    with writer_process("hold", data_dir) as holder:
        assert said(holder) == "holding"
        refused = api.post("/items", PLAN, marketing)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/problems/store-busy")
        assert "Retry-After" in refused.headers
        turns = WriteTurns(str(Path(data_dir, "nm-workflow.sqlite3-write.lock")), timeout=0.1)
        with pytest.raises(OperationalError, match="database is locked"):
            turns.take()  # the holder has the lock file, not only SQLite's lock
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(60)
    WriteTurns.give_back(turns.take()[0])  # released with the killed process's descriptor
    created = api.post("/items", PLAN, marketing)
    assert created.status_code == 201, created.text
    assert state.store.head() == head + 1, "the refused command wrote nothing; the later one its event"


def test_a_save_kept_waiting_by_a_writer_of_its_own_process_is_busy_not_an_outage(
    make_settings: Callable[..., Settings],
) -> None:
    store = EventStore(make_settings(db_lock_timeout=1))
    try:
        writer = store.factory.datastore.get_connection(commit=True)  # type: ignore[attr-defined]
        with writer, pytest.raises(StoreBusy):
            store.record(planned_item())  # waits for the process's one writer connection
        store.record(planned_item())  # at once: contention starts no fail-fast pause
        assert store.head() == 1
    finally:
        store.close()
