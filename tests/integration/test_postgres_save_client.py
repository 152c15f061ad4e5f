"""The PostgreSQL save's client side (ADR 0074): its arrays encoded by hand, its connection lent by
the pool itself, and its errors the library's, as they were through the library's get_connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import psycopg_pool
import pytest
from eventsourcing.persistence import (
    DataError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresDatastore
from psycopg import errors
from psycopg.types.array import ListBinaryDumper

from nm_workflow.application import postgres_arrays
from nm_workflow.application.postgres import BoundedRetryRecorder
from nm_workflow.application.postgres_save import library_error
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from tests.support.contracts import postgres_datastore

pytestmark = pytest.mark.postgres
TABLE = "client_saved_events"


@pytest.fixture
def datastore(postgres_database_url: str) -> Iterator[PostgresDatastore]:
    datastore = postgres_datastore(postgres_database_url, pool_size=2)
    yield datastore
    datastore.close()


def made(datastore: PostgresDatastore) -> BoundedRetryRecorder:
    recorder = BoundedRetryRecorder(datastore, events_table_name=TABLE)
    recorder.create_table()
    return recorder


def event(aggregate: UUID, version: int, topic: str = "tests:Happened", state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator_id=aggregate, originator_version=version, topic=topic, state=state)


def test_the_encoded_arrays_are_read_by_the_server_as_the_values_they_hold(
    postgres_database_url: str,
) -> None:
    events = [
        event(uuid4(), 0, "tests:Ünïcode ✓ 中文", b""),
        event(uuid4(), 2**63 - 1, "", b"\x00\xff" * 5000),
        event(UUID(int=0), 1, "tests:Ω", b"\x00"),
        *(event(uuid4(), version, state=b"%d" % version) for version in range(2, 300)),
    ]
    with psycopg.connect(postgres_database_url, autocommit=True) as conn:
        curs = conn.cursor()
        postgres_arrays.register(curs.adapters)
        curs.execute(
            "SELECT %b::uuid[], %b::bigint[], %b::text[], %b::bytea[]", postgres_arrays.columns(events)
        )
        row = curs.fetchone()

    assert row is not None
    assert row[0] == [e.originator_id for e in events]
    assert row[1] == [e.originator_version for e in events]
    assert row[2] == [e.topic for e in events]
    assert row[3] == [e.state for e in events]


def test_a_save_dumps_no_list_element_by_element_hashes_no_uuid_nor_asks_the_library_for_its_connection(
    datastore: PostgresDatastore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg's list dumper, the library's get_connection and the rows' ids as UUIDs (made, then
    hashed and compared by Python methods) cost a save of one event about 100,000 of its 276,000
    client instructions (ADR 0074); the save needs none of them."""
    recorder = made(datastore)

    def refused(*_: Any, **__: Any) -> Any:
        raise AssertionError("not on the save's path")

    monkeypatch.setattr(ListBinaryDumper, "dump", refused)
    monkeypatch.setattr(UUID, "__hash__", refused)
    monkeypatch.setattr(datastore, "get_connection", refused)
    one, other = uuid4(), uuid4()
    ids = [*(recorder.insert_events([event(one, 1)]) or []), *(recorder.insert_events(
        [event(other, 1, "tests:Ω"), event(one, 2, state=b"\x00\xff")]) or [])]  # fmt: skip
    monkeypatch.undo()

    assert ids == [1, 2, 3]
    assert [(n.originator_id, n.originator_version) for n in recorder.select_notifications(1, 10)] == [
        (one, 1), (other, 1), (one, 2)
    ]  # fmt: skip


def test_a_save_opens_the_pool_that_nothing_opened_yet(
    datastore: PostgresDatastore, postgres_database_url: str
) -> None:
    made(datastore)  # the table, made through another datastore
    unopened = postgres_datastore(postgres_database_url)
    try:
        assert unopened.pool.closed
        recorder = BoundedRetryRecorder(unopened, events_table_name=TABLE)

        assert recorder.insert_events([event(uuid4(), 1)]) == [1]
    finally:
        unopened.close()


def test_a_save_on_a_closed_datastore_fails_with_the_librarys_operational_error(
    postgres_database_url: str,
) -> None:
    closed = postgres_datastore(postgres_database_url)
    recorder = made(closed)
    closed.close()

    with pytest.raises(OperationalError):
        recorder.insert_events([event(uuid4(), 1)])


@pytest.mark.parametrize(
    "error",
    [
        errors.UniqueViolation("taken"),
        errors.LockNotAvailable("lock timeout"),
        errors.AdminShutdown("terminated"),
        psycopg.InterfaceError("closed"),
        psycopg_pool.PoolTimeout("no connection"),
        errors.NumericValueOutOfRange("too large"),
        errors.InternalError_("internal"),
        errors.UndefinedFunction("no such function"),
        errors.FeatureNotSupported("not supported"),
        psycopg.DatabaseError("database"),
        psycopg.Error("any"),
    ],
)
def test_each_psycopg_error_becomes_the_library_error_its_get_connection_gives(
    datastore: PostgresDatastore, error: psycopg.Error
) -> None:
    with pytest.raises(PersistenceError) as theirs, datastore.get_connection():
        raise error

    ours = library_error(error)

    assert type(ours) is type(theirs.value)
    assert str(ours) == str(theirs.value)


def test_a_datastore_of_text_ids_is_refused_by_the_save_which_sends_uuids(postgres_database_url: str) -> None:
    env = Settings(database_url=postgres_database_url).persistence_env()
    text_ids = PostgresDatastore(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], originator_id_type="text",
    )  # fmt: skip
    try:
        with pytest.raises(ProgrammingError, match="uuid"):
            BoundedRetryRecorder(text_ids, events_table_name=TABLE)
    finally:
        text_ids.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_store_talks_utf8_whatever_the_environment_or_the_url_says(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The save's topics go as UTF-8 bytes in a binary text[], read in the client encoding: in
    # LATIN1 a topic "tests:é" was stored as "tests:Ã©", without an error.
    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")
    settings: Settings = make_settings()
    assert settings.database_url is not None
    url = settings.database_url + ("&" if "?" in settings.database_url else "?") + "client_encoding=LATIN1"
    store = EventStore(make_settings(database_url=url))
    try:
        datastore = store.factory.datastore  # type: ignore[attr-defined]
        recorder = made(datastore)
        aggregate = uuid4()
        recorder.insert_events([event(aggregate, 1, "tests:é 中文")])
        assert [e.topic for e in recorder.select_events(aggregate)] == ["tests:é 中文"]
    finally:
        store.close()


@pytest.mark.parametrize(
    "wrong", [event(uuid4(), 2**63), event(uuid4(), -(2**63) - 1), StoredEvent("not a uuid", 1, "t", b"")]
)
def test_a_value_the_arrays_cannot_hold_is_the_librarys_data_error(
    datastore: PostgresDatastore, wrong: StoredEvent
) -> None:
    with pytest.raises(DataError):
        made(datastore).insert_events([wrong])
