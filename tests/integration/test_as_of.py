"""`as_of` reads from the snapshot times (ADR 0044): exact at the boundaries, on both databases,
whether the snapshots and their noted times are all there, partly, or not at all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError
from typer.testing import CliRunner

from nm_workflow.application.as_of import load_as_of
from nm_workflow.application.errors import NoSuchVersion, NotFound, StoreBusy, StoreUnavailable
from nm_workflow.application.items import ContentItems
from nm_workflow.application.settings import Settings
from nm_workflow.application.side_tables import iso
from nm_workflow.application.snapshot_times import around_statement
from nm_workflow.application.store import EventStore
from nm_workflow.application.views import item_view
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.metadata import recording
from nm_workflow.interface.cli import app
from tests.integration.test_audit_chain import raw_sql
from tests.integration.test_event_store import METADATA, drafted, planned_item
from tests.integration.test_replay import AUDITOR, fold, state

START = datetime(2025, 2, 1, tzinfo=UTC)  # planned_item's time: version 1
STEP = timedelta(minutes=1)  # version v was recorded at START + (v - 1) * STEP
EVENTS, INTERVAL, SAVED_EVERY = 14, 4, 3


def recorded_at(version: int) -> datetime:
    return START + (version - 1) * STEP


@pytest.fixture
def long_item(make_settings: Callable[..., Settings]) -> Iterator[tuple[EventStore, ContentItem]]:
    """An item of 14 events a minute apart, saved 3 at a time, snapshots every 4 versions."""
    store = EventStore(make_settings(snapshot_interval=INTERVAL))
    with recording(METADATA, START):
        item = planned_item()
    for version in range(2, EVENTS + 1):
        with recording(METADATA, recorded_at(version)):
            drafted(item, f"Draft {version}")
        if version % SAVED_EVERY == 0 or version == EVENTS:
            store.record(item)
    yield store, item
    store.close()


def moments() -> Iterator[tuple[datetime, int]]:
    """(a time, the version at it): each event's own time, and half-way to the next."""
    for version in range(1, EVENTS + 1):
        yield recorded_at(version), version
        yield recorded_at(version) + STEP / 2, version
    yield recorded_at(EVENTS) + timedelta(days=365), EVENTS


def assert_reads_every_time_right(store: EventStore, item: ContentItem) -> None:
    events = list(store.stored_events(item.id))
    items = ContentItems(store)
    for moment, version in moments():
        read = load_as_of(store, item.id, moment)
        assert (read.version, state(read)) == (version, state(fold(events[:version]))), moment
        assert items.get(AUDITOR, item.id, as_of=moment) == item_view(fold(events[:version]))
    for before in (START - timedelta(microseconds=1), START - timedelta(days=1)):
        with pytest.raises(NoSuchVersion):
            load_as_of(store, item.id, before)
        with pytest.raises(NoSuchVersion):
            items.get(AUDITOR, item.id, as_of=before)


def sql(store: EventStore, *statements: str) -> None:
    snapshots = "nmworkflow_snapshots" if store.settings.uses_postgres else "stored_snapshots"
    with raw_sql(store.settings) as connection:
        for statement in statements:
            connection.execute(statement.format(snapshots=snapshots))


def test_each_snapshot_notes_its_version_s_time(long_item: tuple[EventStore, ContentItem]) -> None:
    store, item = long_item
    assert store.snapshot_times.around(item.id, recorded_at(8)) == (8, 12)
    assert store.snapshot_times.around(item.id, recorded_at(8) - STEP / 2) == (4, 8)
    assert store.snapshot_times.around(item.id, recorded_at(1)) == (0, 4)
    assert store.snapshot_times.around(item.id, recorded_at(EVENTS)) == (12, None)


def versions_searched(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The arguments after the aggregate id of each single-event read the search makes, as made."""
    searched: list[tuple[Any, ...]] = []
    read_one = store.event_at

    def spied(*args: Any) -> Any:
        searched.append(args[1:])
        return read_one(*args)

    monkeypatch.setattr(store, "event_at", spied)
    return searched


def test_as_of_reads_the_last_event_at_or_before_the_time_without_a_search(
    long_item: tuple[EventStore, ContentItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, item = long_item
    searched = versions_searched(store, monkeypatch)

    assert_reads_every_time_right(store, item)

    assert all(args == (1,) for args in searched), searched  # only "did it exist?", before its creation


def test_as_of_is_right_without_some_or_all_snapshots_or_their_times(
    long_item: tuple[EventStore, ContentItem],
) -> None:
    store, item = long_item
    sql(store, "DELETE FROM snapshot_times WHERE version = 8")  # a note that failed to be written
    assert_reads_every_time_right(store, item)
    sql(store, "DELETE FROM snapshot_times")  # snapshots of an earlier release: no notes at all
    assert_reads_every_time_right(store, item)
    sql(store, "DELETE FROM {snapshots} WHERE originator_version IN (4, 12)")
    assert_reads_every_time_right(store, item)
    for version in (4, 8, 12):  # notes of snapshots deleted since
        store.snapshot_times.note(item.id, version, recorded_at(version))
    sql(store, "DELETE FROM {snapshots}")
    assert_reads_every_time_right(store, item)


def test_as_of_of_an_unknown_id_is_not_found(long_item: tuple[EventStore, ContentItem]) -> None:
    store, _ = long_item
    with pytest.raises(NotFound) as raised:
        load_as_of(store, planned_item().id, START)
    assert not isinstance(raised.value, NoSuchVersion)


def test_the_times_of_snapshots_an_earlier_release_stored_are_noted_once_by_the_command(
    long_item: tuple[EventStore, ContentItem], cli_env: CliRunner
) -> None:
    store, item = long_item
    sql(store, "DELETE FROM snapshot_times WHERE version <> 8")  # as an earlier release left them

    first = cli_env.invoke(app, ["snapshots", "note-times"])
    again = cli_env.invoke(app, ["snapshots", "note-times"])

    assert (first.exit_code, first.stdout) == (0, "Noted the times of 2 snapshot(s).\n"), first.output
    assert again.stdout == "Noted the times of 0 snapshot(s).\n"
    assert store.snapshot_times.around(item.id, recorded_at(5)) == (4, 8)
    assert store.snapshot_times.around(item.id, recorded_at(EVENTS)) == (12, None)


def test_without_notes_the_search_stays_below_the_snapshot_recorded_after_the_time(
    long_item: tuple[EventStore, ContentItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, item = long_item
    sql(store, "DELETE FROM snapshot_times")  # the load starts from snapshot 12, recorded after the time
    searched = versions_searched(store, monkeypatch)

    assert load_as_of(store, item.id, recorded_at(5)).version == 5
    assert searched, "the search ran"
    assert all(version < 12 for (version,) in searched), searched


def test_the_times_around_are_found_through_the_index_not_by_filtering_every_noted_version(
    long_item: tuple[EventStore, ContentItem],
) -> None:
    store, item = long_item
    postgres = store.settings.uses_postgres
    marker, explain = ("%s", "EXPLAIN ") if postgres else ("?", "EXPLAIN QUERY PLAN ")
    moment = iso(recorded_at(8))
    with raw_sql(store.settings) as connection:
        if postgres:  # a table of a few rows is scanned whole; a long one would use the index
            connection.execute("SET enable_seqscan = off")
        statement = explain + around_statement(marker)
        plan = connection.execute(statement, (str(item.id), moment, str(item.id), moment)).fetchall()
    lines = [str(row[-1]) for row in plan]
    assert sum("snapshot_times_by_time" in line for line in lines) == 2, lines  # below and above
    # One entry on each side, not every noted version up to the time: no sort, no aggregate.
    assert not any(word in line for line in lines for word in ("Sort", "TEMP B-TREE", "Aggregate")), lines


def test_while_the_store_is_found_down_an_as_of_read_fails_at_once_as_a_plain_read_does(
    long_item: tuple[EventStore, ContentItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, item = long_item
    items = ContentItems(store)

    def down() -> int:
        raise OperationalError("connection refused")

    monkeypatch.setattr(store.recorder, "max_notification_id", down)
    with pytest.raises(StoreUnavailable):
        store.head()  # a request finding the database down: requests fail fast for a while
    recorder: Any = store.recorder

    def no_connection(*_: Any, **__: Any) -> Any:
        raise AssertionError("a connection was asked for while the pause lasts")

    for name in ("transaction", "cursor"):  # of the datastore the snapshot times share
        if hasattr(recorder.datastore, name):
            monkeypatch.setattr(recorder.datastore, name, no_connection)

    with pytest.raises(StoreUnavailable, match="moments ago") as plain:
        items.get(AUDITOR, item.id)
    with pytest.raises(StoreUnavailable, match="moments ago") as past:
        items.get(AUDITOR, item.id, as_of=recorded_at(5))

    assert type(past.value) is type(plain.value)  # the same problem type


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # only PostgreSQL has a pool
def test_with_no_free_connection_an_as_of_read_is_busy_as_a_plain_read_is(
    make_settings: Callable[..., Settings],
) -> None:
    store = EventStore(make_settings(db_pool_size=1, db_max_overflow=0, db_connect_timeout=1))
    try:
        item = planned_item()
        store.record(item)
        now = datetime.now(UTC)
        only_connection = store.recorder.datastore.get_connection()  # type: ignore[attr-defined]
        with only_connection:
            with pytest.raises(StoreBusy, match="Every database connection"):
                ContentItems(store).get(AUDITOR, item.id)
            with pytest.raises(StoreBusy, match="Every database connection"):
                ContentItems(store).get(AUDITOR, item.id, as_of=now)
        assert load_as_of(store, item.id, now).version == 1  # at once: no fail-fast pause
    finally:
        store.close()
