"""The reads sent on the store's pooled connections: on PostgreSQL planned once, the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

from nm_workflow.application.generic_plans import generic_plan_rows
from nm_workflow.application.store import EventStore
from projections.readside import EventSource
from tests.integration.test_event_store import drafted, planned_item

READS = 8  # more than the five custom plans PostgreSQL makes before it weighs the generic one
postgres_only = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _logged(store: EventStore) -> list[Any]:
    items = [planned_item(f"item {n}") for n in range(6)]
    for n, item in enumerate(items):
        for m in range(n % 3):
            drafted(item, f"draft {m}")
    store.record(*items)
    return items


@postgres_only
def test_the_log_reads_answer_what_the_library_s_answer(store: EventStore) -> None:
    recorder, library = store.recorder, PostgresApplicationRecorder
    assert recorder.max_notification_id() is None
    assert recorder.max_notification_id() == library.max_notification_id(recorder)
    _logged(store)
    head = recorder.max_notification_id()
    assert head is not None
    assert head == library.max_notification_id(recorder)
    topics = sorted({n.topic for n in recorder.select_notifications(None, 100)})[:1]
    cases: list[tuple[int | None, int, int | None, list[str], bool]] = [
        (None, 100, None, [], True), (None, 3, None, topics, True), (1, 100, None, [], True),
        (1, 100, None, [], False), (2, 3, head - 1, [], False), (3, 100, head, topics, True),
        (head, 5, None, [], False), (head, 5, None, [], True), (0, 100, 2, topics, False),
    ]  # fmt: skip
    for start, limit, stop, chosen, inclusive in cases:
        ours = recorder.select_notifications(start, limit, stop, chosen, inclusive_of_start=inclusive)
        theirs = library.select_notifications(
            recorder,
            start, limit, stop, chosen, inclusive_of_start=inclusive,
        )  # fmt: skip
        assert ours == theirs, (start, limit, stop, chosen, inclusive)
    assert len(recorder.select_notifications(None, 100)) == head  # the cases saw every event


@pytest.fixture
def one_connection_store(make_settings: Any) -> Iterator[EventStore]:
    """A store whose pool holds one connection: each read's prepared statements are on it."""
    store = EventStore(make_settings(db_pool_size=1, db_max_overflow=0))
    yield store
    store.close()


@postgres_only
def test_on_postgresql_the_log_reads_and_the_command_s_read_are_planned_once(
    one_connection_store: EventStore,
) -> None:
    store = one_connection_store
    items = _logged(store)
    source = EventSource(store)
    for n in range(READS):
        source.read(n, None, [], 100)  # the projections' batch
        source.read(0, n + 1, ["some.Topic"], 100)
        store.events_of({items[0].id: 0, items[1].id: n % 2})  # a command's read
        store.head()

    datastore = store.recorder.datastore  # type: ignore[attr-defined]
    assert isinstance(datastore, PostgresDatastore)
    with datastore.get_connection() as connection:
        rows = connection.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        ).fetchall()
        mode = connection.execute("SELECT current_setting('plan_cache_mode') AS mode").fetchone()
    plans = {row["statement"]: (row["generic_plans"], row["custom_plans"]) for row in rows}

    def of(fragment: str) -> list[tuple[int, int]]:
        return [counts for statement, counts in plans.items() if fragment in statement]

    assert sorted(of("ORDER BY notification_id LIMIT")) == [(READS, 0), (READS, 0)], plans
    assert of("CROSS JOIN LATERAL") == [(READS, 0)], plans
    assert of("MAX(notification_id)") == [(READS, 0)], plans  # prepared from the first
    assert mode is not None
    assert mode["mode"] == "auto", "the setting lasts for the read alone"


@postgres_only
def test_a_read_that_fails_leaves_its_connection_usable_and_on_the_server_s_plans(
    one_connection_store: EventStore,
) -> None:
    datastore = one_connection_store.recorder.datastore  # type: ignore[attr-defined]
    assert isinstance(datastore, PostgresDatastore)
    with datastore.get_connection() as connection:
        with pytest.raises(psycopg.errors.DivisionByZero):
            generic_plan_rows(connection, "SELECT 1 / %s AS n", (0,))
        assert generic_plan_rows(connection, "SELECT 1 / %s AS n", (1,)) == [{"n": 1}]
        mode = connection.execute("SELECT current_setting('plan_cache_mode') AS mode").fetchone()
    assert mode == {"mode": "auto"}
    assert one_connection_store.recorder.max_notification_id() is None  # the pool's one connection
