"""Another process's commit wakes caught-up projections at once, not at their poll.

On SQLite through the file's data version (projections/wakeup_sqlite.py), on PostgreSQL
through LISTEN (projections/wakeup.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nm_workflow.application.store import EventStore
from tests.projections.conftest import SupervisorFactory
from tests.projections.test_tables import live_one_life

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
