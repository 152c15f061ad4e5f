"""A command's one read of several aggregates (several_reads.py, ADR 0027)."""

from __future__ import annotations

import uuid

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.several_reads import select_events_of
from nm_workflow.application.store import EventStore
from tests.integration.test_audit_chain import raw_sql
from tests.integration.test_event_store import drafted, planned_item


def test_each_wanted_aggregate_gets_its_events_after_its_version_in_order(store: EventStore) -> None:
    first, second, untouched = planned_item("first"), planned_item("second"), planned_item("third")
    for n in range(3):
        drafted(first, f"first {n}")
        drafted(second, f"second {n}")
    store.record(first, second, untouched)

    found = select_events_of(store.recorder, {first.id: 2, second.id: 0, untouched.id: 1})

    assert [e.originator_version for e in found[first.id]] == [3, 4]
    assert [e.originator_version for e in found[second.id]] == [1, 2, 3, 4]
    assert found[untouched.id] == []


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_on_postgresql_each_wanted_aggregate_is_a_range_of_the_primary_key_not_a_scan_of_the_log(
    store: EventStore, settings: Settings
) -> None:
    """A small log is where the planner was tempted: it reckons the wanted pairs at 10 rows and
    took a hash join over a sequential scan of every event, a cost that grew with the log."""
    items = [planned_item(f"item {n}") for n in range(40)]
    for item in items:
        for n in range(5):
            drafted(item, f"draft {n}")
    store.record(*items)  # 240 events
    wanted = [items[0].id, items[1].id, items[2].id]
    statement = store.recorder._statement  # type: ignore[attr-defined]  # the very statement sent

    with raw_sql(settings) as connection:
        connection.execute("ANALYZE")  # the planner knows the log is small
        plan = connection.execute(b"EXPLAIN " + statement, (wanted, [0, 2, 4])).fetchall()

    lines = [str(row[0]) for row in plan]
    assert not any("Seq Scan" in line for line in lines), lines
    assert any("Index Scan" in line and "_events" in line for line in lines), lines


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_sqlite_each_row_is_filed_under_the_wanted_id_itself_with_no_id_parsed(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rows' ids come back as the text the statement asked for: each finds its wanted UUID by
    # that text, which saved a UUID parsed per row (ADR 0057).
    first, second = planned_item("first"), planned_item("second")
    drafted(first, "first draft")
    store.record(first, second)
    wanted = {first.id: 0, second.id: 1}
    parsed: list[object] = []
    real_init = uuid.UUID.__init__

    def parsing(self: uuid.UUID, *args: object, **kwargs: object) -> None:
        parsed.append(args or kwargs)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(uuid.UUID, "__init__", parsing)
    found = select_events_of(store.recorder, wanted)

    assert parsed == []
    assert [e.originator_version for e in found[first.id]] == [1, 2]
    assert all(e.originator_id is first.id for e in found[first.id])
    assert found[second.id] == []
