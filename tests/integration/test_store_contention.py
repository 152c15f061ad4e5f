"""A lock held too long is 'busy' (503 store-busy), not an outage: the store keeps trying."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest

from nm_workflow.application.errors import StoreBusy
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from tests.integration.test_event_store import planned_item


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # only PostgreSQL has lock_timeout
def test_a_lock_wait_timeout_is_busy_not_an_outage(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(db_lock_timeout=1)
    store = EventStore(settings)
    try:
        store.record(planned_item())
        release = threading.Event()
        holding = threading.Event()

        def hold_the_table() -> None:
            with psycopg.connect(settings.database_url or "", autocommit=False) as conn:
                conn.execute("LOCK TABLE nmworkflow_events IN ACCESS EXCLUSIVE MODE")
                holding.set()
                release.wait(60)

        holder = threading.Thread(target=hold_the_table)
        holder.start()
        holding.wait(10)
        with pytest.raises(StoreBusy):
            store.record(planned_item())
        release.set()
        holder.join()
        store.record(planned_item())  # no fail-fast pause after mere contention
        assert store.head() == 2
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # only PostgreSQL has a pool
def test_no_free_connection_is_busy_not_an_outage(make_settings: Callable[..., Settings]) -> None:
    store = EventStore(make_settings(db_pool_size=1, db_max_overflow=0, db_connect_timeout=1))
    try:
        store.record(planned_item())
        only_connection = store.recorder.datastore.get_connection()  # type: ignore[attr-defined]
        with only_connection, pytest.raises(StoreBusy, match="Every database connection"):
            store.head()
        assert store.head() == 1  # at once: a saturated pool starts no fail-fast pause
    finally:
        store.close()
