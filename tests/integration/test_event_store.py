"""The event store on both backends: round trips, versions, several processes, conflicts, metadata."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, ProgrammingError

from nm_workflow.application.errors import ConcurrentModification, NotFound, StoreUnavailable
from nm_workflow.application.event_chain import CHAIN_TABLE
from nm_workflow.application.idempotency import recorded
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.application.store_errors import translated_errors
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.metadata import EventMetadata, recording
from nm_workflow.domain.timing import Now

METADATA = EventMetadata(
    actor_id="planner-1",
    role="planner",
    department="marketing",
    correlation_id="corr-1",
    causation_id="cause-1",
    policy_version=1,
)


def planned_item(theme: str = "Spring launch") -> ContentItem:
    return ContentItem.plan(
        theme=theme,
        format="article",
        target_audience="existing customers",
        expected_effect="awareness",
        platforms=["wechat", "weibo"],
        department="marketing",
        campaign=None,
        planned_publish_date=date(2025, 3, 1),
        planner_id="planner-1",
        now=Now(datetime(2025, 2, 1, tzinfo=UTC)),
    )


def drafted(item: ContentItem, title: str) -> ContentItem:
    item.draft(title=title, body="Body.", asset_links=[], source_notes="", author_id="author-1")
    return item


def test_an_aggregate_survives_the_round_trip(store: EventStore) -> None:
    item = drafted(planned_item(), "First")
    store.record(item)

    loaded = store.load(item.id)

    assert (loaded.id, loaded.version, loaded.theme) == (item.id, 2, "Spring launch")
    assert loaded.planned_publish_date == date(2025, 3, 1)
    assert loaded.current_revision == item.current_revision


def test_a_past_version_can_be_loaded(store: EventStore) -> None:
    item = drafted(drafted(planned_item(), "First"), "Second")
    store.record(item)

    assert store.load(item.id, version=2).current_revision["title"] == "First"
    assert store.load(item.id, version=1).revision_count == 0
    assert store.load(item.id).current_revision["title"] == "Second"


def test_an_unknown_id_is_not_found(store: EventStore) -> None:
    with pytest.raises(NotFound):
        store.load(planned_item().id)


def test_a_second_store_on_the_same_database_sees_the_writes(
    store: EventStore, make_settings: Callable[..., Settings]
) -> None:
    item = planned_item()
    store.record(item)
    other = EventStore(make_settings())
    try:
        assert other.load(item.id).theme == "Spring launch"
        assert other.head() == store.head()
    finally:
        other.close()


def test_the_head_grows_with_every_event(store: EventStore) -> None:
    assert store.head() == 0
    store.record(planned_item("One"))
    first = store.head()
    position = store.record(drafted(planned_item("Two"), "Draft"))

    assert first >= 1
    assert store.head() == position == first + 2
    assert [n.id for n in store.notifications(start=first + 1)] == [first + 1, first + 2]


def test_a_concurrent_write_to_the_same_item_conflicts(
    store: EventStore, make_settings: Callable[..., Settings]
) -> None:
    item = planned_item()
    store.record(item)
    item_id = item.id
    other = EventStore(make_settings())
    try:
        mine, theirs = store.load(item_id), other.load(item_id)
        store.record(drafted(mine, "Mine"))
        with pytest.raises(ConcurrentModification):
            other.record(drafted(theirs, "Theirs"))
        assert other.load(item_id).current_revision["title"] == "Mine"
    finally:
        other.close()


def test_metadata_and_utc_timestamps_survive_the_round_trip(
    store: EventStore, make_settings: Callable[..., Settings]
) -> None:
    with recording(METADATA):
        item = planned_item()
    store.record(item)
    other = EventStore(make_settings())
    try:
        (planned,) = other.stored_events(item.id)
    finally:
        other.close()

    assert planned.meta == METADATA.as_dict()
    assert planned.timestamp.utcoffset() == timedelta(0)


def test_a_command_s_events_and_its_idempotency_record_convert_their_one_time_once(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The time's conversion to text was a sixth of mapping an event (docs/adr/0068).
    datetimes = store.mapper.transcoder.types[datetime]
    convert, converted = datetimes.encode, []

    def counted(value: datetime) -> str:
        converted.append(value)
        return str(convert(value))

    monkeypatch.setattr(datetimes, "encode", counted)
    at = datetime(2026, 11, 30, 12, 0, 1, tzinfo=UTC)
    with recording(METADATA, at):
        item = planned_item()
    made = recorded("planner-1", "key-1", "plan_item", "f" * 64, item.id, 1, True, metadata=METADATA, at=at)
    store.record(item, made=[made])

    assert converted == [at]
    (record,) = store.stored_events(made.originator_id)
    assert (record.timestamp, store.stored_events(item.id)[0].timestamp) == (at, at)


def test_settings_name_one_database_per_test(backend: str, make_settings: Callable[..., Settings]) -> None:
    first, second = make_settings(), make_settings(db_pool_size=30)

    assert second.db_pool_size == 30
    assert (first.database_url, first.data_dir) == (second.database_url, second.data_dir)
    assert first.uses_postgres is (backend == "postgres")


def test_the_postgres_server_answers(postgres_admin_url: str) -> None:
    """In CI (CI=true) this fails rather than skips when PostgreSQL is missing: the
    PostgreSQL half of the suite must never be skipped silently there."""
    with psycopg.connect(postgres_admin_url, connect_timeout=5) as connection:
        row = connection.execute("SHOW server_version_num").fetchone()
    assert row is not None
    assert int(row[0]) >= 130000


def test_an_item_survives_a_snapshot_round_trip(store: EventStore) -> None:
    from eventsourcing.domain import Snapshot

    from nm_workflow.application.views import item_view
    from nm_workflow.domain.roles import Stage

    item = drafted(planned_item(), "First")
    item.request_review(revision=1)
    item.approve(stage=Stage.EDITOR, revision=1, content_hash=None, reviewer_id="ed")
    stored = store.mapper.to_stored_event(Snapshot.take(item))
    restored = store.mapper.to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]
    assert restored.stage is Stage.DEPARTMENT_HEAD
    assert item_view(restored) == item_view(item)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("?application_name=nm-options-test", "nm-options-test"),
        ("", "nm-workflow"),
        ("?connect_timeout=7", "nm-workflow"),  # also a setting of the service's own connections
    ],
    ids=["options-of-the-url", "named-by-the-service", "connect-timeout-of-the-url"],
)
def test_libpq_options_in_the_url_reach_every_connection(
    postgres_database_url: str, query: str, name: str
) -> None:
    store = EventStore(Settings(database_url=f"{postgres_database_url}{query}"))
    try:
        with store.recorder.datastore.get_connection() as connection:  # type: ignore[attr-defined]
            row = connection.execute("SELECT current_setting('application_name') AS name").fetchone()
    finally:
        store.close()
    assert row["name"] == name


@pytest.mark.parametrize(
    ("row", "conflict"),
    [
        ({"position": "taken", "record_hash": b"r" * 32}, True),  # a unique violation: another writer's row
        ({"position": 10**9, "record_hash": b"r" * 31}, False),  # CHECK (length(record_hash) = 32)
        ({"position": 10**9, "record_hash": None}, False),  # NOT NULL
    ],
    ids=["unique", "check", "not-null"],
)
def test_only_a_unique_violation_is_taken_for_a_concurrent_write(
    store: EventStore, row: dict[str, object], conflict: bool
) -> None:
    """A value the schema refuses is the service's bug, to be answered as one, never 'retry'."""
    store.record(planned_item())
    position = store.head() if row["position"] == "taken" else row["position"]
    marker = "%s" if store.settings.uses_postgres else "?"
    insert = f"INSERT INTO {CHAIN_TABLE} VALUES ({', '.join([marker] * 4)})"
    expected = ConcurrentModification if conflict else IntegrityError
    datastore = store.factory.datastore  # type: ignore[attr-defined]
    with (
        pytest.raises(expected) as refused,
        translated_errors(),
        datastore.transaction(commit=True) as cursor,
    ):
        cursor.execute(insert, (position, 10**9, row["record_hash"], b"c" * 32))
    assert isinstance(refused.value.__cause__ if conflict else refused.value, IntegrityError)


@pytest.mark.parametrize("failure", [OperationalError, ProgrammingError], ids=["batch", "unit"])
def test_a_save_failing_for_the_database_gives_its_caller_the_database_s_reason(
    store: EventStore, monkeypatch: pytest.MonkeyPatch, failure: type[Exception]
) -> None:
    """Each caller of a failed save gets its own StoreUnavailable, with the database's words as
    the end of its chain of causes (what the command line prints, cli_errors.reported): a
    connection's failure fails the whole batch, another database error the unit alone."""
    reason = sqlite3.OperationalError("disk I/O error")

    def broken(_batch: object) -> None:
        raise failure(str(reason)) from reason

    monkeypatch.setattr(store, "_save_batch", broken)
    with pytest.raises(StoreUnavailable) as refused:
        store.record(planned_item())
    library = refused.value.__cause__
    assert isinstance(library, failure)
    assert library.__cause__ is reason
