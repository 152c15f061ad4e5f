"""The reads sent on the store's pooled connections: planned once on PostgreSQL, the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.postgres import PostgresDatastore

from nm_workflow.application.store import EventStore
from projections.readside import EventSource
from tests.integration.test_event_store import drafted, planned_item

READS = 8  # more than the five custom plans PostgreSQL makes before it weighs the generic one


def _logged(store: EventStore) -> list[Any]:
    items = [planned_item(f"item {n}") for n in range(6)]
    for n, item in enumerate(items):
        for m in range(n % 3):
            drafted(item, f"draft {m}")
    store.record(*items)
    return items


def test_the_log_read_answers_what_the_library_s_read_answers(store: EventStore) -> None:
    _logged(store)
    source, recorder = EventSource(store), store.recorder
    head = source.head()
    assert head == recorder.max_notification_id()
    topics = sorted({n.topic for n in recorder.select_notifications(1, 100)})[:1]
    cases = [(0, None, [], 100), (2, None, [], 3), (1, head - 1, [], 100),
             (0, head, topics, 100), (0, None, topics, 2), (head, None, [], 5)]  # fmt: skip
    for after, upto, chosen, limit in cases:
        expected = recorder.select_notifications(
            after, limit, stop=upto, topics=chosen, inclusive_of_start=False
        )
        found = source.read(after, upto, chosen, limit)
        assert [(r.position, r.topic) for r in found] == [(n.id, n.topic) for n in expected]
        assert [r.event.originator_version for r in found] == [n.originator_version for n in expected]


@pytest.fixture
def one_connection_store(make_settings: Any) -> Iterator[EventStore]:
    """A store whose pool holds one connection: each read's prepared statements are on it."""
    store = EventStore(make_settings(db_pool_size=1, db_max_overflow=0))
    yield store
    store.close()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_on_postgresql_the_log_read_and_the_command_s_read_are_planned_once(
    one_connection_store: EventStore,
) -> None:
    store = one_connection_store
    items = _logged(store)
    source = EventSource(store)
    for n in range(READS):
        source.read(n, None, [], 100)
        source.read(0, n + 1, ["some.Topic"], 100)
        store.events_of({items[0].id: 0, items[1].id: n % 2})
        source.head()

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

    assert of("topic = ANY") == [(READS, 0)], plans  # the log read of some topics
    assert of("notification_id <=") == [(READS, 0), (READS, 0)], plans  # both log reads
    assert of("CROSS JOIN LATERAL") == [(READS, 0)], plans  # the command's read
    assert of("MAX(notification_id)") == [(READS, 0)], plans  # prepared from the first
    assert mode is not None
    assert mode["mode"] == "auto", "the setting lasts for the read alone"
