"""Group commit on both backends, with real threads: concurrent saves share transactions,
each caller gets its own outcome, and a unit (a command's aggregates) commits or fails whole.

Batching is made observable without timing: a gate holds the first transaction until the
other callers have queued behind it, so the next transaction must take all of them at once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from eventsourcing.persistence import TranscodingNotRegisteredError
from psycopg import sql

from nm_workflow.application.errors import ConcurrentModification, NotFound, StoreUnavailable
from nm_workflow.application.idempotency import IdempotencyRecord
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.metadata import WorkflowAggregate
from tests.integration.test_event_store import drafted, planned_item
from tests.support.waiting import DEADLINE, wait_until


class Gate:
    """Holds each of the store's `insert_events` calls until let through; records each call's
    number of events (one call: one transaction)."""

    def __init__(self, store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[int] = []
        self._passes = threading.Semaphore(0)
        insert_events = store.recorder.insert_events

        def gated(stored_events: Sequence[Any], **kwargs: Any) -> Any:
            self.calls.append(len(stored_events))
            assert self._passes.acquire(timeout=DEADLINE)
            return insert_events(stored_events, **kwargs)

        monkeypatch.setattr(store.recorder, "insert_events", gated)

    def held(self, calls: int) -> None:
        """Wait until `calls` calls have reached the gate."""
        wait_until(lambda: len(self.calls) >= calls)

    def let_through(self, calls: int) -> None:
        self._passes.release(calls)

    def open(self) -> None:
        self.let_through(1000)


Call = Callable[[], int | None]


@contextmanager
def queued_behind_a_held_leader(
    store: EventStore, gate: Gate, calls: Sequence[Call]
) -> Iterator[list[Future[int | None]]]:
    """Run calls[0] until the gate holds it, queue the rest behind it; open the gate on exit."""
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(calls[0])]
        gate.held(1)
        futures += [pool.submit(call) for call in calls[1:]]
        try:
            wait_until(lambda: store.saves_queued == len(calls) - 1)
            yield futures
        finally:
            gate.open()


def _outcome(future: Future[int | None]) -> int | BaseException | None:
    error = future.exception(DEADLINE)
    return error if error is not None else future.result()


def _recording(store: EventStore, *aggregates: WorkflowAggregate) -> Call:
    return lambda: store.record(*aggregates)


def test_concurrent_saves_share_one_transaction_and_each_gets_its_own_position(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(store, monkeypatch)
    items = [
        drafted(planned_item(f"Item {n}"), "Draft") if n % 2 else planned_item(f"Item {n}") for n in range(7)
    ]
    events = [item.version for item in items]  # each item is new: its version counts its events
    signalled = store.appended.count

    with queued_behind_a_held_leader(store, gate, [_recording(store, item) for item in items]) as futures:
        pass
    positions = [future.result(DEADLINE) for future in futures]

    assert gate.calls == [events[0], sum(events[1:])]  # the six queued saves in one transaction
    assert store.appended.count == signalled + 2  # the projections of this process woken by each
    last_of = {n.originator_id: n.id for n in store.notifications()}  # the last event of each item
    assert positions == [last_of[item.id] for item in items]
    assert len(set(positions)) == len(items)
    assert [store.load(item.id).version for item in items] == [item.version for item in items]


def test_max_batch_splits_what_is_queued_into_transactions_of_that_many_saves(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EventStore(make_settings(group_commit_max_batch=2))
    try:
        gate = Gate(store, monkeypatch)
        calls = [_recording(store, planned_item(f"Item {n}")) for n in range(6)]
        with queued_behind_a_held_leader(store, gate, calls) as futures:
            pass
        assert all(isinstance(future.result(DEADLINE), int) for future in futures)
        assert gate.calls == [1, 2, 2, 1]
        assert store.head() == 6
    finally:
        store.close()


def test_a_conflicting_save_fails_alone_while_the_rest_of_its_batch_commits(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    contested = planned_item("Contested")
    store.record(contested)
    mine, theirs = drafted(store.load(contested.id), "Mine"), drafted(store.load(contested.id), "Theirs")
    others = [planned_item(f"Other {n}") for n in range(3)]
    gate = Gate(store, monkeypatch)
    calls = [_recording(store, planned_item("Leader")), _recording(store, mine), _recording(store, theirs)]
    calls += [_recording(store, item) for item in others]

    with queued_behind_a_held_leader(store, gate, calls) as futures:
        pass
    outcomes = [_outcome(future) for future in futures]

    conflicts = [o for o in outcomes[1:3] if isinstance(o, ConcurrentModification)]
    assert len(conflicts) == 1, outcomes
    winner = "Mine" if isinstance(outcomes[2], ConcurrentModification) else "Theirs"
    assert store.load(contested.id).current_revision["title"] == winner
    assert all(isinstance(o, int) for o in (outcomes[0], *outcomes[3:])), outcomes
    assert [store.load(item.id).theme for item in others] == ["Other 0", "Other 1", "Other 2"]


def test_an_idempotency_record_and_its_events_commit_together_or_not_at_all(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def key_record(item: WorkflowAggregate) -> IdempotencyRecord:
        return IdempotencyRecord("mia", "key-1", "plan_item", "fingerprint", item.id, 1, True)

    first = planned_item("First")
    store.record(first, key_record(first))  # the key's first use
    reused, bystander = planned_item("Reused key"), planned_item("Bystander")
    gate = Gate(store, monkeypatch)
    calls = [_recording(store, planned_item("Leader")), _recording(store, reused, key_record(reused))]
    calls.append(_recording(store, bystander))

    with queued_behind_a_held_leader(store, gate, calls) as futures:
        pass
    outcomes = [_outcome(future) for future in futures]

    assert isinstance(outcomes[1], ConcurrentModification), outcomes
    with pytest.raises(NotFound):
        store.load(reused.id)  # its item would have been saved alone: it failed with its record
    assert store.load(IdempotencyRecord.create_id("mia", "key-1")).aggregate_id == first.id
    assert isinstance(outcomes[2], int)
    assert store.load(bystander.id).theme == "Bystander"


def test_a_command_whose_events_cannot_be_stored_fails_at_once_and_its_neighbours_commit(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    unstorable = planned_item("Unstorable")
    unstorable.draft(title="T", body="B.", asset_links=[], source_notes="", author_id=object())  # type: ignore[arg-type]
    others = [planned_item(f"Other {n}") for n in range(3)]
    gate = Gate(store, monkeypatch)
    calls = [_recording(store, planned_item("Leader")), *(_recording(store, item) for item in others)]

    # Its events are encoded on its own thread before it queues: it fails while the batch is held.
    with (
        queued_behind_a_held_leader(store, gate, calls) as futures,
        pytest.raises(TranscodingNotRegisteredError),
    ):
        store.record(unstorable)
    outcomes = [_outcome(future) for future in futures]

    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert gate.calls == [1, 3]
    with pytest.raises(NotFound):
        store.load(unstorable.id)
    assert [store.load(item.id).theme for item in others] == ["Other 0", "Other 1", "Other 2"]


@contextmanager
def database_refusing_writes(settings: Settings, request: pytest.FixtureRequest) -> Iterator[None]:
    """SQLite: another connection holds the write lock. PostgreSQL: the database takes no more
    connections and the store's are cut. Undone on exit."""
    if settings.database_url is None:
        holder = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
        finally:
            holder.close()
        return
    name = urlsplit(settings.database_url).path.lstrip("/")
    allow = sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}")
    with psycopg.connect(request.getfixturevalue("postgres_admin_url"), autocommit=True) as admin:
        admin.execute(allow.format(sql.Identifier(name), sql.SQL("false")))
        try:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            yield
        finally:
            admin.execute(allow.format(sql.Identifier(name), sql.SQL("true")))


def test_a_database_error_mid_batch_fails_its_callers_and_loses_nothing_committed(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    settings = make_settings(db_lock_timeout=1, db_connect_timeout=1, retry_after_seconds=1)
    store = EventStore(settings)
    try:
        gate = Gate(store, monkeypatch)
        committed = planned_item("Committed")
        failing = [planned_item(f"Failing {n}") for n in range(4)]
        calls = [_recording(store, item) for item in (committed, *failing)]
        with queued_behind_a_held_leader(store, gate, calls) as futures:
            gate.let_through(1)  # the leader's transaction commits; the next takes the four queued
            gate.held(2)
            with database_refusing_writes(settings, request):
                gate.open()
                outcomes = [_outcome(future) for future in futures]
    finally:
        store.close()

    assert gate.calls == [1, 4]
    assert isinstance(outcomes[0], int)
    assert all(isinstance(o, StoreUnavailable) for o in outcomes[1:]), outcomes
    assert len({id(o) for o in outcomes[1:]}) == len(failing), "each caller raises its own error"
    after = EventStore(settings)
    try:
        assert after.head() == outcomes[0]
        assert after.load(committed.id).theme == "Committed"
        for item in failing:
            with pytest.raises(NotFound):
                after.load(item.id)
    finally:
        after.close()
