"""A lock held too long is 'busy' (503 store-busy), not an outage: the store keeps trying."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.errors import (
    ConcurrentModification,
    StoreBusy,
    StoreUnavailable,
    VersionMismatch,
)
from nm_workflow.application.items import ContentItems
from nm_workflow.application.settings import Settings
from nm_workflow.application.sqlite_writers import LOCK_FILE_SUFFIX
from nm_workflow.application.store import EventStore
from nm_workflow.application.store_guard import in_background
from tests.integration.test_department_scope import PLAN
from tests.integration.test_event_store import planned_item
from tests.unit.test_command_metrics import DRAFT, MIA


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


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the write lock file is SQLite's
def test_commands_queued_behind_a_waiting_batch_are_busy_within_one_lock_timeout(
    make_settings: Callable[..., Settings],
) -> None:
    """NM_DB_LOCK_TIMEOUT bounds a command's wait from when it began to wait: the commands queued
    behind a batch that waited for the file's turn waited the whole timeout again, and those
    behind them again (3 timeouts for the fourth command of a process)."""
    settings = make_settings(db_lock_timeout=1)
    store = EventStore(settings)
    try:
        store.record(planned_item())
        holder = os.open(f"{settings.sqlite_path}{LOCK_FILE_SUFFIX}", os.O_RDWR)
        fcntl.flock(holder, fcntl.LOCK_EX)  # another process's writer holding its turn
        waited: list[float] = []

        def command() -> None:
            began = time.monotonic()
            with pytest.raises(StoreBusy):
                store.record(planned_item())
            waited.append(time.monotonic() - began)

        try:
            threads = [threading.Thread(target=command) for _ in range(4)]
            for thread in threads:
                thread.start()
                time.sleep(0.05)  # one after the other: a lone leader first, then a batch behind it
            for thread in threads:
                thread.join(30)
        finally:
            os.close(holder)
        assert len(waited) == 4
        assert max(waited) < 1.6, waited  # each within its own timeout of 1 s, not 2 or 3
        store.record(planned_item())
        assert store.head() == 2, "the refused commands wrote nothing"
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


def test_a_background_failure_never_makes_requests_fail_fast(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EventStore(make_settings())
    try:
        head = store.head()
        working = store.recorder.max_notification_id

        def down() -> int:
            raise OperationalError("connection refused")

        monkeypatch.setattr(store.recorder, "max_notification_id", down)
        with in_background(), pytest.raises(StoreUnavailable):
            store.head()  # a delivery thread polling while the database is down
        monkeypatch.setattr(store.recorder, "max_notification_id", working)
        assert store.head() == head, "the database is back: a request is served at once"

        monkeypatch.setattr(store.recorder, "max_notification_id", down)
        with pytest.raises(StoreUnavailable):
            store.head()  # a request finding it down
        monkeypatch.setattr(store.recorder, "max_notification_id", working)
        with pytest.raises(StoreUnavailable, match="moments ago"):
            store.head()  # requests fail fast for a while, as before
        with in_background():
            assert store.head() == head, "background work is not held back by the requests' pause"
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the read without BEGIN is SQLite's
def test_a_failed_command_read_on_sqlite_is_the_stores_error(make_settings: Callable[..., Settings]) -> None:
    store = EventStore(make_settings())
    try:
        item = planned_item()
        store.record(item)

        def rename(old: str, new: str) -> None:
            with store.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
                cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")

        rename("stored_events", "elsewhere")
        with pytest.raises(StoreUnavailable, match="OperationalError"):  # no such table
            store.events_of({item.id: 0})
        rename("elsewhere", "stored_events")
        store._unavailable_until = 0.0  # the fail-fast pause the failure started
        assert [e.originator_version for e in store.events_of({item.id: 0})[item.id]] == [1]
    finally:
        store.close()


def test_a_command_with_if_match_that_loses_the_race_to_save_is_412_with_the_version_now(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its If-Match version was current when read but not when saved: the precondition is false
    (412 with the version now, RFC 9110), not a bare 409; without If-Match a lost race stays 409."""
    items = ContentItems(store)
    item = items.plan(CommandContext(MIA), PLAN).aggregate_id
    record = store.record

    def another_command_first(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(store, "record", record)  # once
        items.draft(CommandContext(MIA), item, DRAFT | {"title": "theirs"})  # between read and save
        return record(*args, **kwargs)

    monkeypatch.setattr(store, "record", another_command_first)
    with pytest.raises(VersionMismatch, match="another command changed") as refused:
        items.draft(CommandContext(MIA, expected_version=1), item, DRAFT | {"title": "mine"})
    assert refused.value.current_version == 2
    monkeypatch.setattr(store, "record", another_command_first)
    with pytest.raises(ConcurrentModification):
        items.draft(CommandContext(MIA), item, DRAFT | {"title": "mine"})
    latest = store.event_at(item)
    assert latest is not None
    assert latest.originator_version == 3, "both of theirs saved, none of mine"
