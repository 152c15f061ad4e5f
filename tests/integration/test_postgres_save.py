"""The PostgreSQL save in one round trip and one statement (ADR 0036, ADR 0046): what it must still guarantee.

The ids it returns are the stored ones, the links the server computes are the ones an auditor
recomputes, a conflict leaves nothing behind, and a connection cut in the middle of a save is
retried or fails without writing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, ProgrammingError, StoredEvent

from nm_workflow.application.event_chain import CHAIN_TABLE
from nm_workflow.application.postgres import CONNECTION_ATTEMPTS, BoundedRetryRecorder
from nm_workflow.domain.audit_record import StoredRecord, extend
from tests.support.contracts import postgres_datastore
from tests.support.cursors import cursors_made
from tests.support.waiting import DEADLINE, wait_until

pytestmark = pytest.mark.postgres
TABLE = "saved_events"


@pytest.fixture
def recorder(postgres_database_url: str) -> Iterator[BoundedRetryRecorder]:
    datastore = postgres_datastore(postgres_database_url, pool_size=2)
    recorder = BoundedRetryRecorder(datastore, events_table_name=TABLE)
    recorder.create_table()
    yield recorder
    datastore.close()


def event(aggregate: UUID, version: int, topic: str = "tests:Happened", state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator_id=aggregate, originator_version=version, topic=topic, state=state)


def stored(recorder: BoundedRetryRecorder) -> dict[tuple[UUID, int], int]:
    """(aggregate id, version) -> notification id of every stored event."""
    notifications = recorder.select_notifications(None, 1000)
    return {(UUID(str(n.originator_id)), n.originator_version): n.id for n in notifications}


def chain_matches_the_log(recorder: BoundedRetryRecorder, limit: int = 1000) -> bool:
    """The links the server wrote are the ones the canonical encoding gives (domain/audit_record.py)."""
    records = [
        StoredRecord(n.id, UUID(str(n.originator_id)), n.originator_version, n.topic, n.state)
        for n in recorder.select_notifications(None, limit)
    ]
    return recorder.select_chain(0, limit) == extend(None, records)


def test_the_ids_returned_are_the_stored_ones_and_the_links_the_auditors(
    recorder: BoundedRetryRecorder,
) -> None:
    one, other = uuid4(), uuid4()
    recorder.insert_events([event(one, 1)])
    batch = [event(other, 1, "tests:Ünïcode ✓"), event(one, 2, state=b"\x00\xff binary"), event(other, 2)]

    ids = recorder.insert_events(batch)

    rows = stored(recorder)
    assert ids == [rows[(UUID(str(e.originator_id)), e.originator_version)] for e in batch]
    assert ids == [2, 3, 4]
    assert chain_matches_the_log(recorder)


def test_a_save_of_many_events_is_chained_after_the_head_as_the_auditor_recomputes(
    recorder: BoundedRetryRecorder,
) -> None:
    # One statement folds the records in order (a running aggregate): every link follows the one
    # before it, the first one the head the log already had.
    recorder.insert_events([event(uuid4(), 1)])
    many = uuid4()

    ids = recorder.insert_events([event(many, v, state=b"%d" % v) for v in range(1, 1201)])

    assert ids == list(range(2, 1202))
    assert chain_matches_the_log(recorder, limit=2000)


def test_versions_of_every_integer_width_are_stored_as_given_save_after_save(
    recorder: BoundedRetryRecorder,
) -> None:
    # The versions go as a binary array whose element type follows the values (int2, int4, int8).
    small, large = uuid4(), uuid4()
    wide = [event(small, 1), event(large, 40_000), event(large, 2**40)]

    ids = recorder.insert_events(wide) + recorder.insert_events([event(small, 2)])

    rows = stored(recorder)
    assert ids == [rows[(small, 1)], rows[(large, 40_000)], rows[(large, 2**40)], rows[(small, 2)]]
    assert sorted(ids) == [1, 2, 3, 4]
    assert chain_matches_the_log(recorder)


def test_a_taken_version_fails_the_whole_call_and_leaves_nothing(recorder: BoundedRetryRecorder) -> None:
    taken = uuid4()
    recorder.insert_events([event(taken, 1)])

    with pytest.raises(IntegrityError):
        recorder.insert_events([event(uuid4(), 1), event(taken, 1)])

    assert list(stored(recorder)) == [(taken, 1)]
    assert len(recorder.select_chain(0, 1000)) == 1
    later = uuid4()
    (position,) = recorder.insert_events([event(later, 1)]) or []  # the connection was left usable
    assert stored(recorder)[(later, 1)] == position
    assert chain_matches_the_log(recorder)


def test_saves_on_one_pooled_connection_share_one_cursor_before_and_after_a_conflict(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh cursor per save looked its adapters up again: a fifth of one writer's work (ADR 0059)."""
    datastore = postgres_datastore(postgres_database_url, pool_size=1)
    try:
        recorder = BoundedRetryRecorder(datastore, events_table_name=TABLE)
        recorder.create_table()
        made = cursors_made(monkeypatch)
        taken, other = uuid4(), uuid4()
        first = recorder.insert_events([event(taken, 1)])
        with pytest.raises(IntegrityError):
            recorder.insert_events([event(other, 1), event(taken, 1)])
        then = recorder.insert_events([event(other, 1), event(taken, 2, state=b"\x00 binary")])
        assert len(made) == 1
        monkeypatch.undo()

        rows = stored(recorder)
        assert [*(first or []), *(then or [])] == [rows[(taken, 1)], rows[(other, 1)], rows[(taken, 2)]]
        assert chain_matches_the_log(recorder)
    finally:
        datastore.close()


@contextmanager
def table_locked(url: str) -> Iterator[None]:
    """Another session holding the events table, so that a save waits inside its statement."""
    with psycopg.connect(url) as holder:
        holder.execute(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
        yield


def waiting_saves(admin: psycopg.Connection[Any], spared: set[int]) -> list[int]:
    """The backends waiting for the events table's lock, but the `spared` ones (cut before: a cut
    backend may linger a moment)."""
    waiting = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        f" AND wait_event_type = 'Lock' AND query LIKE '%%{TABLE}_insert%%' AND NOT pid = ANY(%s)"
    )
    return [row[0] for row in admin.execute(waiting, (list(spared),))]


def cut_waiting_save(admin: psycopg.Connection[Any], spared: set[int]) -> None:
    """Terminate the backend of the next save that waits for the table lock; it joins `spared`."""
    wait_until(lambda: bool(waiting_saves(admin, spared)))
    (pid,) = waiting_saves(admin, spared)
    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    spared.add(pid)


def saving(recorder: BoundedRetryRecorder, events: list[StoredEvent]) -> Callable[[], object]:
    return lambda: recorder.insert_events(events)


def test_a_save_whose_connection_is_cut_while_it_waits_is_retried_and_written_once(
    recorder: BoundedRetryRecorder, postgres_database_url: str
) -> None:
    aggregate, cut = uuid4(), set[int]()
    with (
        psycopg.connect(postgres_database_url, autocommit=True) as admin,
        ThreadPoolExecutor(1) as pool,
        table_locked(postgres_database_url),
    ):
        future = pool.submit(saving(recorder, [event(aggregate, 1)]))
        cut_waiting_save(admin, cut)
        wait_until(lambda: bool(waiting_saves(admin, cut)))  # the retry, waiting for the lock in turn
    ids = future.result(DEADLINE)

    assert ids == [stored(recorder)[(aggregate, 1)]]
    assert len(recorder.select_chain(0, 1000)) == 1
    assert chain_matches_the_log(recorder)


def test_a_save_cut_at_every_attempt_fails_as_unavailable_and_writes_nothing(
    recorder: BoundedRetryRecorder, postgres_database_url: str
) -> None:
    cut = set[int]()
    with (
        psycopg.connect(postgres_database_url, autocommit=True) as admin,
        ThreadPoolExecutor(1) as pool,
        table_locked(postgres_database_url),
    ):
        future = pool.submit(saving(recorder, [event(uuid4(), 1)]))
        for _ in range(CONNECTION_ATTEMPTS):
            cut_waiting_save(admin, cut)
        error = future.exception(DEADLINE)

    assert isinstance(error, OperationalError), error
    assert stored(recorder) == {}
    assert recorder.select_chain(0, 1000) == []


def test_one_event_saves_and_group_saves_in_turn_give_the_links_the_auditor_recomputes(
    recorder: BoundedRetryRecorder,
) -> None:
    # A save of one event folds its link with one sha256, a save of several with the running
    # aggregate: both extend the same chain, from the genesis on, on the same pooled connections
    # with their cached plans (more saves of each kind than the server's custom plans before it
    # considers a generic one).
    one, other = uuid4(), uuid4()
    recorder.insert_events([event(one, 1, "tests:Ünïcode ✓", b"")])
    for version in range(2, 9):
        recorder.insert_events([event(one, version, state=b"\x00\xff%d" % version)])
    recorder.insert_events([event(other, 1), event(one, 9, "tests:Ω"), event(other, 2, state=b"\x00")])
    recorder.insert_events([event(other, 3, state=b"after the group")])

    assert sorted(stored(recorder).values()) == list(range(1, 13))
    assert chain_matches_the_log(recorder)


def test_a_save_function_left_by_a_previous_release_is_replaced_at_start_for_open_connections(
    recorder: BoundedRetryRecorder, postgres_database_url: str
) -> None:
    aggregate = uuid4()
    recorder.insert_events([event(aggregate, 1)])  # a pooled connection has the function compiled
    previous_release = (
        f"CREATE OR REPLACE FUNCTION {TABLE}_insert(ids uuid[], versions bigint[], topics text[],"
        " states bytea[], lock_timeout text) RETURNS TABLE (notification_id bigint, originator_id uuid,"
        " originator_version bigint) LANGUAGE plpgsql AS $$ BEGIN RAISE 'the previous release'; END $$"
    )
    with psycopg.connect(postgres_database_url, autocommit=True) as admin:
        admin.execute(previous_release)
    with pytest.raises(ProgrammingError, match="the previous release"):
        recorder.insert_events([event(aggregate, 2)])

    started = postgres_datastore(postgres_database_url)
    try:
        BoundedRetryRecorder(started, events_table_name=TABLE).create_table()
    finally:
        started.close()
    ids = recorder.insert_events([event(aggregate, 2)]) or []

    assert ids == [stored(recorder)[(aggregate, 2)]]
    assert chain_matches_the_log(recorder)


def test_saves_go_on_after_the_server_ends_the_pooled_sessions_that_had_the_call_prepared(
    recorder: BoundedRetryRecorder, postgres_database_url: str
) -> None:
    # The prepared call lives in a session: a connection the server ended (a restart, an
    # administrator's pg_terminate_backend) is replaced, and the new one prepares it again.
    aggregate = uuid4()
    for version in (1, 2, 3):  # on both pooled connections, in turn
        recorder.insert_events([event(aggregate, version)])
    with psycopg.connect(postgres_database_url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert ended is not None
    assert ended[0] >= 1

    ids = [(recorder.insert_events([event(aggregate, version)]) or [None])[0] for version in (4, 5, 6)]

    assert ids == [stored(recorder)[(aggregate, version)] for version in (4, 5, 6)]
    assert chain_matches_the_log(recorder)


def test_group_saves_chain_alike_under_the_previous_releases_sql_step_and_the_plpgsql_one(
    recorder: BoundedRetryRecorder, postgres_database_url: str
) -> None:
    # The running aggregate's step became PL/pgSQL (its plan kept for the session, ADR 0047's
    # addendum): a process of the previous release, whose start put back the SQL-language step,
    # and the next start, which replaces it again, extend one chain the auditor recomputes.
    one, other = uuid4(), uuid4()
    previous_step = (
        f"CREATE OR REPLACE FUNCTION {CHAIN_TABLE}_step(state bytea, head bytea, record bytea) RETURNS bytea"
        " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT sha256(coalesce(state, head) || record)'"
    )
    step_language = (
        "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
        f" WHERE p.proname = '{CHAIN_TABLE}_step'"
    )
    with psycopg.connect(postgres_database_url, autocommit=True) as admin:
        assert admin.execute(step_language).fetchall() == [("plpgsql",)]
        recorder.insert_events([event(one, 1), event(other, 1, "tests:Ω", b"\x00\xff")])
        admin.execute(previous_step)
        recorder.insert_events([event(one, 2), event(other, 2, state=b"previous step")])
        started = postgres_datastore(postgres_database_url)
        try:
            BoundedRetryRecorder(started, events_table_name=TABLE).create_table()
        finally:
            started.close()
        recorder.insert_events([event(one, 3, "tests:Ünïcode ✓"), event(other, 3)])
        assert admin.execute(step_language).fetchall() == [("plpgsql",)]

    assert sorted(stored(recorder).values()) == list(range(1, 7))
    assert chain_matches_the_log(recorder)


@pytest.mark.parametrize("held_by", ["SHARE UPDATE EXCLUSIVE", "EXCLUSIVE"])
def test_a_save_waits_for_the_writer_holding_the_table_while_reads_go_on(
    recorder: BoundedRetryRecorder, postgres_database_url: str, held_by: str
) -> None:
    # A save in progress holds SHARE UPDATE EXCLUSIVE, which conflicts with itself, and a writer of
    # an earlier release EXCLUSIVE: either way the next save draws its ids only after that writer
    # committed (ids in commit order). Plain reads of the log take neither and do not wait.
    first = uuid4()
    recorder.insert_events([event(first, 1)])
    with ThreadPoolExecutor(1) as pool, psycopg.connect(postgres_database_url) as writer:
        writer.execute(f"LOCK TABLE {TABLE} IN {held_by} MODE")
        insert = f"INSERT INTO {TABLE} (originator_id, originator_version) VALUES (%s, 2)"
        writer.execute(insert, (first,))
        later = pool.submit(recorder.insert_events, [event(uuid4(), 1)])
        with psycopg.connect(postgres_database_url, autocommit=True) as admin:
            wait_until(lambda: bool(waiting_saves(admin, set())))
        assert recorder.max_notification_id() == 1  # read while the save waits
        assert not later.done()
        writer.commit()
        (position,) = later.result(timeout=DEADLINE) or []

    assert position == 3  # after the writer's id 2, which it committed first
