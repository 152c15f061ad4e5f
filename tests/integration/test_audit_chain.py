"""The hash chain on both backends: tampers made with SQL are detected and named; checkpoints hold."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from nm_workflow.application.audit_checkpoint import Checkpoint
from nm_workflow.application.audit_verify import BreakKind, chain_head, chained, verify_log
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import APPLICATION_NAME, EventStore
from nm_workflow.domain.audit_record import StoredRecord, extend
from nm_workflow.domain.metadata import recording
from tests.integration.test_event_store import METADATA, drafted, planned_item

NAMES = {  # per backend: the events table, its position column, an expression altering the actor
    "sqlite": {
        "events": "stored_events",
        "pos": "rowid",
        "state": "CAST(replace(CAST(state AS TEXT), 'planner-1', 'planner-2') AS BLOB)",
    },
    "postgres": {
        "events": f"{APPLICATION_NAME}_events",
        "pos": "notification_id",
        "state": "convert_to(replace(convert_from(state, 'UTF8'), 'planner-1', 'planner-2'), 'UTF8')",
    },
}
# Made on a log of positions 1 to 6: statements with {events} (the events table), {pos} (its
# position column) and {state}; the break expected (kind, position) and the records verified before it.
TAMPERS = {
    "altered": (["UPDATE {events} SET state = {state} WHERE {pos} = 3"], BreakKind.ALTERED_RECORD, 3, 2),
    "deleted": (["DELETE FROM {events} WHERE {pos} = 3"], BreakKind.DELETED_RECORD, 3, 2),
    "deleted with its link": (
        ["DELETE FROM {events} WHERE {pos} = 3", "DELETE FROM event_chain WHERE position = 3"],
        BreakKind.DELETED_RECORD, 4, 2,
    ),
    "inserted": (
        ["INSERT INTO {events} (originator_id, originator_version, topic, state)"
         " SELECT originator_id, originator_version + 10, topic, state FROM {events} WHERE {pos} = 3"],
        BreakKind.INSERTED_RECORD, 7, 6,
    ),
    "reordered": (
        ["UPDATE {events} SET {pos} = 1000 WHERE {pos} = 3", "UPDATE {events} SET {pos} = 3 WHERE {pos} = 4",
         "UPDATE {events} SET {pos} = 4 WHERE {pos} = 1000"],
        BreakKind.REORDERED_RECORDS, 3, 2,
    ),
    "altered link": (["UPDATE event_chain SET chain_hash = record_hash WHERE position = 3"],
                     BreakKind.ALTERED_LINK, 3, 2),
}  # fmt: skip


@contextmanager
def raw_sql(settings: Settings) -> Iterator[Any]:
    """An autocommitting connection to the store's database, as an operator's sqlite3 or psql."""
    if settings.database_url is not None:
        with psycopg.connect(settings.database_url, autocommit=True) as connection:
            yield connection
        return
    lite = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    try:
        yield lite
    finally:
        lite.close()


def names(settings: Settings) -> dict[str, str]:
    return NAMES["postgres" if settings.uses_postgres else "sqlite"]


def tamper(settings: Settings, statements: list[str]) -> None:
    with raw_sql(settings) as connection:
        for statement in statements:
            connection.execute(statement.format(**names(settings)))


def raw_records(settings: Settings) -> list[StoredRecord]:
    """The log's rows read with plain SQL, in position order."""
    select = "SELECT {pos}, originator_id, originator_version, topic, state FROM {events} ORDER BY {pos}"
    with raw_sql(settings) as connection:
        rows = connection.execute(select.format(**names(settings))).fetchall()
    return [StoredRecord(p, uuid.UUID(str(a)), v, t, bytes(s)) for p, a, v, t, s in rows]


def record_items(store: EventStore, count: int) -> None:
    """`count` items, each planned and drafted in one insert: two positions each."""
    with recording(METADATA):
        for number in range(count):
            store.record(drafted(planned_item(f"Theme {number}"), "Title"))


def verified(settings: Settings, checkpoint: Checkpoint | None = None) -> Any:
    """Verify with a store opened afresh (as `audit verify` does, after a restart)."""
    store = EventStore(settings)
    try:
        return verify_log(store, checkpoint)
    finally:
        store.close()


def independent_chain(settings: Settings) -> bytes:
    """The head's chain hash recomputed from the raw rows as ADR 0031 documents it, without the code."""
    chain = bytes(32)
    for r in raw_records(settings):
        topic = r.topic.encode()
        body = r.position.to_bytes(8, "big") + r.aggregate_id.bytes + r.version.to_bytes(8, "big")
        body += len(topic).to_bytes(4, "big") + topic + len(r.state).to_bytes(4, "big") + r.state
        chain = hashlib.sha256(chain + hashlib.sha256(b"\x00" + body).digest()).digest()
    return chain


def test_an_untouched_log_verifies_and_its_chain_is_the_documented_one(
    store: EventStore, settings: Settings
) -> None:
    record_items(store, 3)

    result = verify_log(store)

    assert result.broken is None
    assert result.checked == 6
    assert result.head is not None
    assert (result.head.position, result.head.leaf_index) == (6, 5)
    assert result.head.chain_hash == independent_chain(settings)
    recorder = chained(store)  # what Merkle proofs read: a leaf by its number
    assert (recorder.chain_link_at(5), recorder.chain_link_at(6)) == (result.head, None)


@pytest.mark.parametrize("name", list(TAMPERS))
def test_a_tamper_made_with_sql_is_detected_and_named(
    name: str, store: EventStore, settings: Settings
) -> None:
    record_items(store, 3)
    store.close()
    statements, kind, position, checked = TAMPERS[name]

    tamper(settings, statements)
    result = verified(settings)  # a restart first: it must not adopt an inserted record

    assert result.broken is not None, name
    assert (result.broken.kind, result.broken.position, result.checked) == (kind, position, checked)


def test_the_log_extends_a_checkpoint_and_a_truncation_below_it_fails(
    store: EventStore, settings: Settings
) -> None:
    record_items(store, 2)
    kept = Checkpoint.of(chain_head(store), None)
    record_items(store, 2)

    assert verify_log(store, kept).broken is None
    store.close()
    tamper(settings, ["DELETE FROM event_chain WHERE position > 2", "DELETE FROM {events} WHERE {pos} > 2"])

    assert verified(settings).broken is None  # the chain alone cannot see a cut tail
    broken = verified(settings, kept).broken
    assert broken is not None
    assert (broken.kind, broken.position) == (BreakKind.TRUNCATED_TAIL, 4)


def test_a_chain_rewritten_consistently_is_caught_only_by_the_checkpoint(
    store: EventStore, settings: Settings
) -> None:
    record_items(store, 2)
    kept = Checkpoint.of(chain_head(store), None)
    store.close()
    tamper(settings, TAMPERS["altered"][0])
    links = extend(None, raw_records(settings))  # the whole chain recomputed over the altered log
    mark = "%s" if settings.uses_postgres else "?"
    with raw_sql(settings) as connection:
        connection.execute("DELETE FROM event_chain")
        for link in links:
            row = (link.position, link.leaf_index, link.record_hash, link.chain_hash)
            connection.execute(f"INSERT INTO event_chain VALUES ({mark}, {mark}, {mark}, {mark})", row)

    assert verified(settings).broken is None
    broken = verified(settings, kept).broken
    assert broken is not None
    assert (broken.kind, broken.position) == (BreakKind.DIVERGED, 4)


def test_concurrent_writers_keep_one_unbroken_chain_verified_as_it_grows(make_settings: Any) -> None:
    settings = make_settings(db_pool_size=8)
    store = EventStore(settings)
    writers = [threading.Thread(target=record_items, args=(store, 5)) for _ in range(8)]
    verifications = []
    try:
        for writer in writers:
            writer.start()
        while any(writer.is_alive() for writer in writers):  # verified while the chain grows
            verifications.append(verify_log(store))
        result = verify_log(store)
    finally:
        store.close()
    assert [v.broken for v in verifications if v.broken is not None] == []
    assert result.broken is None
    assert result.checked == 80


@pytest.mark.postgres
def test_two_processes_writing_at_once_keep_one_unbroken_chain(postgres_database_url: str) -> None:
    settings = Settings(database_url=postgres_database_url)
    EventStore(settings).close()  # tables made before the writers race
    script = (
        "import sys; from nm_workflow.application.settings import Settings;"
        " from nm_workflow.application.store import EventStore;"
        " from tests.integration.test_audit_chain import record_items;"
        " store = EventStore(Settings(database_url=sys.argv[1])); record_items(store, 40); store.close()"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, postgres_database_url]) for _ in range(2)]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0]

    result = verified(settings)
    assert result.broken is None
    assert result.checked == 160


class Counter(Aggregate):
    @event("Counted")
    def count(self) -> None:
        pass


class StoreBeforeTheChain(Application[uuid.UUID]):
    name = APPLICATION_NAME


def test_a_log_from_before_the_chain_is_chained_at_the_first_start(settings: Settings) -> None:
    env = settings.persistence_env()
    del env["APPLICATION_RECORDER_TOPIC"]  # the library's own recorder: no chain
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    before = StoreBeforeTheChain(env=env)
    for _ in range(3):
        counter = Counter()
        counter.count()
        before.save(counter)
    before.close()

    result = verified(settings)

    assert result.broken is None
    assert result.checked == 6
    assert result.head is not None
    assert result.head.chain_hash == independent_chain(settings)
