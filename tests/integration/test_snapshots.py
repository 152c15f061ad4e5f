"""Snapshots under concurrent writers in two processes, and a snapshot that cannot be written (ADR 0029)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from eventsourcing.persistence import OperationalError

from bench.roundtrips import Recorder
from nm_workflow.application import snapshots
from nm_workflow.application.errors import ConcurrentModification
from nm_workflow.application.settings import Settings
from nm_workflow.application.side_tables import iso
from nm_workflow.application.snapshots import AggregateSnapshot
from nm_workflow.application.store import EventStore
from tests.integration.test_audit_chain import raw_sql
from tests.integration.test_event_store import drafted, planned_item
from tests.integration.test_replay import fold, state
from tests.support.broken_connections import break_every_connection
from tests.support.cursors import cursors_made

WRITERS, DRAFTS = 4, 6


def test_concurrent_writers_leave_one_true_snapshot_at_every_interval(
    make_settings: Callable[..., Settings],
) -> None:
    stores = [EventStore(make_settings(snapshot_interval=3)) for _ in range(2)]  # two "processes"
    try:
        item = planned_item()
        stores[0].record(item)

        def write(n: int) -> None:
            store, written = stores[n % 2], 0
            while written < DRAFTS:
                try:
                    store.record(drafted(store.load(item.id), f"writer {n}, draft {written}"))
                    written += 1
                except ConcurrentModification:
                    continue  # another writer took that version: load again

        threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        events = list(stores[1].stored_events(item.id))
        assert len(events) == 1 + WRITERS * DRAFTS
        assert stores[1].snapshots is not None
        snapshots = list(stores[1].snapshots.get(item.id))
        assert [s.originator_version for s in snapshots] == list(range(3, len(events) + 1, 3))
        for snapshot in snapshots:
            assert isinstance(snapshot, AggregateSnapshot)
            assert state(snapshot.mutate(None)) == state(fold(events[: snapshot.originator_version]))
        with raw_sql(stores[1].settings) as connection:  # each noted once, with its version's time
            noted = connection.execute("SELECT version, recorded_at FROM snapshot_times").fetchall()
        assert sorted(tuple(row) for row in noted) == [
            (s.originator_version, iso(events[s.originator_version - 1].timestamp)) for s in snapshots
        ]
    finally:
        for store in stores:
            store.close()


def test_a_snapshot_that_cannot_be_written_does_not_fail_the_committed_command(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(snapshot_interval=2)
    store, reader = EventStore(settings), EventStore(settings)
    try:
        item = planned_item()
        store.record(item)
        assert store.snapshots is not None

        def broken(*_: object, **__: object) -> None:
            raise OperationalError("the connection was lost after the commit")

        # Wherever it is written: the library's recorder (SQLite), with its time (PostgreSQL).
        unreachable = SimpleNamespace(cursor=broken, transaction=broken, get_connection=broken)
        monkeypatch.setattr(store.snapshots.recorder, "insert_events", broken)
        monkeypatch.setattr(store.snapshot_times, "_datastore", unreachable)
        with caplog.at_level(logging.WARNING):
            position = store.record(drafted(item, "second"))  # version 2: a snapshot is due

        assert position == reader.head()
        assert "No snapshot" in caplog.text
        assert reader.load(item.id).version == 2  # read from the events alone
        assert reader.snapshots is not None
        assert list(reader.snapshots.get(item.id)) == []
    finally:
        store.close()
        reader.close()


@pytest.mark.parametrize(("small_state_bytes", "taken"), [(16_384, [2, 4, 6, 8, 10, 12]), (500, [2, 10])])
def test_a_small_state_is_snapshotted_more_often_than_a_large_one(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    small_state_bytes: int,
    taken: list[int],
) -> None:
    """Every 2 versions while the last snapshot was small, else every 10 (ADR 0044)."""
    monkeypatch.setattr(snapshots, "SMALL_STATE_BYTES", small_state_bytes)
    store = EventStore(make_settings(snapshot_interval=10, snapshot_interval_small_state=2))
    try:
        item = planned_item()
        store.record(item)
        for n in range(11):  # a 1 kB body: a snapshot of about 1.5 kB
            store.record(drafted(item, f"draft {n} " + "x" * 1_000))
        assert store.snapshots is not None
        assert [s.originator_version for s in store.snapshots.get(item.id)] == taken
        assert (
            store.load(item.id, 11).current_revision
            == fold(list(store.stored_events(item.id))[:11]).current_revision
        )
    finally:
        store.close()


def test_a_snapshot_due_at_the_saved_version_is_taken_from_the_saved_aggregate_without_a_read(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The aggregate just saved is its state at its version; one saved past the due version
    (two events, the first due) is replayed to that version. Both equal a fold of the events."""
    store = EventStore(make_settings(snapshot_interval=2, snapshot_interval_small_state=0))
    reads: list[int | None] = []
    get = store.repository.get

    def counted(aggregate_id: object, version: int | None = None, **options: object) -> object:
        reads.append(version)
        return get(aggregate_id, version=version, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(store.repository, "get", counted)
    try:
        item = planned_item()
        store.record(drafted(item, "first"))  # versions 1 and 2: due at 2, the saved version
        assert reads == []
        store.record(drafted(drafted(item, "second"), "third"))  # 3 and 4: due at 4, no read
        store.record(drafted(drafted(drafted(item, "4th"), "5th"), "6th"))  # 5, 6, 7: due at 6
        assert reads == [6]
        assert store.snapshots is not None
        events = list(store.stored_events(item.id))
        snapshots = list(store.snapshots.get(item.id))
        assert [s.originator_version for s in snapshots] == [2, 4, 6]
        for snapshot in snapshots:
            assert isinstance(snapshot, AggregateSnapshot)
            assert state(snapshot.mutate(None)) == state(fold(events[: snapshot.originator_version]))
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_on_postgresql_a_snapshot_and_its_time_are_written_in_one_round_trip(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """One statement, one commit: the snapshot's row and its time's (ADR 0059)."""
    recorder = Recorder(tmp_path / "traces")
    with recorder.installed():
        store = EventStore(make_settings(snapshot_interval=2, snapshot_interval_small_state=0))
        try:
            item = planned_item()
            store.record(item)
            recorder.take()
            store.record(drafted(item, "second"))  # version 2: a snapshot is due
            trips = [trip for trip in recorder.take() if "snapshot" in trip]
            assert store.latest_snapshot(item.id) is not None
            assert store.snapshot_times.around(item.id, item.modified_on) == (2, None)
        finally:
            store.close()
    assert len(trips) == 1, "\n".join(trips)
    assert "nmworkflow_snapshots" in trips[0]
    assert "snapshot_times" in trips[0]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_on_postgresql_snapshots_on_one_pooled_connection_share_one_cursor_before_and_after_a_conflict(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fresh cursor per snapshot looked its row's dumpers up again: a fifth of its cost (ADR 0065)."""
    # One pooled connection, so that every statement below meets the cursors kept on it.
    settings = make_settings(
        snapshot_interval=2, snapshot_interval_small_state=0, db_pool_size=1, db_max_overflow=0
    )
    store = EventStore(settings)
    try:
        item = planned_item()
        store.record(drafted(item, "first"))  # the save's cursor made, and the first snapshot's
        made = cursors_made(monkeypatch)
        with caplog.at_level(logging.WARNING):
            store._snapshot(item.id, 2, item)  # there already: refused by the database
        drafted(item, "second")
        store.record(drafted(item, "third"))  # versions 3 and 4: the snapshot at 4 is due
        monkeypatch.undo()
        assert made == []
        assert "No snapshot" in caplog.text
        assert store.snapshots is not None
        assert [s.originator_version for s in store.snapshots.get(item.id)] == [2, 4]
        assert store.snapshot_times.around(item.id, item.modified_on) == (4, None)
    finally:
        store.close()


def test_a_snapshot_already_there_is_neither_written_nor_noted_again_and_the_command_stands(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """Another process took it first (a unique violation): a warning, one row in each table."""
    store = EventStore(make_settings(snapshot_interval=2, snapshot_interval_small_state=0))
    try:
        item = planned_item()
        store.record(drafted(item, "first"))  # versions 1 and 2: the snapshot at 2 is taken
        with caplog.at_level(logging.WARNING):
            store._snapshot(item.id, 2, item)  # as a second process would
        assert "No snapshot" in caplog.text
        assert store.snapshots is not None
        assert [s.originator_version for s in store.snapshots.get(item.id)] == [2]
        with raw_sql(store.settings) as connection:
            noted = connection.execute("SELECT version, recorded_at FROM snapshot_times").fetchall()
        assert [tuple(row) for row in noted] == [(2, iso(item.modified_on))]
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # only PostgreSQL pools connections
def test_on_postgresql_a_snapshot_is_written_over_a_pooled_connection_that_broke_while_idle(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """As every write of the store, retried once on a fresh connection (ADR 0027): no lost
    snapshot, and no fail-fast pause armed for the requests that follow."""
    settings = make_settings(snapshot_interval=100, snapshot_interval_small_state=0)
    store = EventStore(settings)
    try:
        item = planned_item()
        store.record(drafted(item, "first"))  # versions 1 and 2, no snapshot due
        assert settings.database_url is not None
        break_every_connection(settings.database_url)
        with caplog.at_level(logging.WARNING):
            store._snapshot(item.id, 2, item)
        assert "No snapshot" not in caplog.text
        assert store._unavailable_until == 0.0
        latest = store.latest_snapshot(item.id)
        assert latest is not None
        assert latest.version == 2
        assert store.snapshot_times.around(item.id, item.modified_on) == (2, None)
    finally:
        store.close()
