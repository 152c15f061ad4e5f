"""A rebuild's lock is taken on the read model's one connection for rebuilds, kept between
rebuilds (projections/rebuild.py): one rebuild of a projection at a time within the process
too, and a kept connection that died is replaced rather than read as someone else's lock."""

from __future__ import annotations

from importlib import import_module

import psycopg
import pytest

from nm_workflow.application.store import EventStore
from projections import ReadModel, RebuildRunning, rebuild
from tests.projections.scenario import Scenario, snapshot

OWNERSHIP = import_module("projections.ownership")


def test_a_rebuild_running_in_this_process_refuses_a_second_of_the_same_projection(
    store: EventStore, read_model: ReadModel
) -> None:
    Scenario(store, seed=5).run(items=2, open_at_once=2)
    assert read_model.rebuild_locks.acquire_once("rebuild:audit_trail")  # stands for another thread's rebuild
    try:
        with pytest.raises(RebuildRunning):
            rebuild(read_model, "audit_trail")
        assert not read_model.rebuild_locks.acquire_once("rebuild:audit_trail")
    finally:
        read_model.rebuild_locks.release("rebuild:audit_trail")
    rebuild(read_model, "audit_trail")
    built = snapshot(read_model)
    assert built["audit_trail"]
    rebuild(read_model, "audit_trail")  # the lock released after the first, on the kept connection
    assert snapshot(read_model) == built


def test_a_kept_lock_connection_that_died_is_replaced(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not read_model.settings.uses_postgres:
        pytest.skip("PostgreSQL's session locks (SQLite locks files, no connection)")
    Scenario(store, seed=6).run(items=1, open_at_once=1)
    rebuild(read_model, "item_status")
    kept = read_model.rebuild_locks._connection
    assert kept is not None
    assert not kept.closed
    assert read_model.settings.database_url is not None
    with psycopg.connect(read_model.settings.database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (kept.info.backend_pid,))
    monkeypatch.setattr(OWNERSHIP, "HEALTH_CHECK_SECONDS", 0.0)  # checked at once, not after 5 s
    rebuild(read_model, "item_status")  # not refused as if another process held the lock
    assert read_model.rebuild_locks._connection is not kept
