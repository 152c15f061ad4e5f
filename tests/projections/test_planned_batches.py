"""On SQLite a shared batch is worked out before the write turn, and only written under it (ADR 0086).

What a projection's handlers do runs while SQLite's write lock is free for the commands; under it
the batch only moves the tracking rows and runs the statements kept. Where a plan could be wrong
(a projection that reads what it wrote in the batch, tables replaced since the plan read them),
the projection is applied under the turn as before, and the rows are the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from nm_workflow.application.items import ContentItems
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import APPLICATION_NAME, EventStore
from projections import NAMES, ReadModel, rebuild
from projections import batches as batches_module
from projections.batches import Builder, SharedReader
from projections.planned import Plan, plans
from projections.sql import Tx
from tests.projections.quarter_scenario import ManualClock
from tests.projections.scenario import Scenario, snapshot
from tests.projections.test_supervision_figures import driver_for, quarter_of_activity
from tests.projections.test_tables import MARKETER, PLANNED_DATE, START, ctx, live_one_life

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _reader(m: ReadModel, batch_size: int = 500) -> tuple[SharedReader, list[Builder]]:
    builders = [Builder(m.projections[n], m.recorders[n], m.db, m.source, batch_size) for n in NAMES]
    return SharedReader(builders, m.db, m.source, batch_size), builders


def _under_the_lock(m: ReadModel, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The projections whose handlers ran while a writer held SQLite's write lock, as another
    connection sees it (`BEGIN IMMEDIATE` refused at once)."""
    seen: set[str] = set()
    probe = sqlite3.connect(settings.sqlite_path, timeout=0, isolation_level=None)
    for name in NAMES:
        projection = m.projections[name]
        apply = projection.apply

        def watched(tx: Tx, batch: Any, apply: Callable[[Tx, Any], None] = apply, name: str = name) -> None:
            try:
                probe.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                seen.add(name)
            else:
                probe.execute("ROLLBACK")
            apply(tx, batch)

        monkeypatch.setattr(projection, "apply", watched)
    return seen


def test_no_handler_runs_while_the_batch_holds_sqlite_s_write_lock(
    store: EventStore, read_model: ReadModel, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, position = live_one_life(store)
    under_the_lock = _under_the_lock(read_model, settings, monkeypatch)
    reader, builders = _reader(read_model)
    assert reader.step(builders)
    assert under_the_lock == set()
    assert read_model.positions(NAMES) == dict.fromkeys(NAMES, position)
    assert [r["state"] for r in read_model.list_items().items] == ["withdrawn"]
    audited = [r["position"] for r in read_model.audit_trail(cursor=None, limit=500).items]
    assert sorted(audited) == list(range(1, position + 1)), "every event once"


def test_a_projection_that_reads_what_it_wrote_in_the_batch_is_applied_under_the_lock(
    store: EventStore,
    read_model: ReadModel,
    settings: Settings,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Interactions received, answered, escalated and resolved in one batch: interaction_log reads
    # its row back with a statement of its own after the batch's earlier event wrote it. A plan
    # would read the row as it was before the batch; under the lock the handler sees its own write.
    driver = driver_for(store, settings, clock)
    quarter_of_activity(driver)
    driver.run()
    under_the_lock = _under_the_lock(read_model, settings, monkeypatch)
    reader, builders = _reader(read_model)
    assert reader.step(builders)
    assert "interaction_log" in under_the_lock
    assert {"item_status", "audit_trail", "quarterly_evaluation"}.isdisjoint(under_the_lock)
    incremental = snapshot(read_model)
    for name in NAMES:
        rebuild(read_model, name)
    assert snapshot(read_model) == incremental


def test_tables_replaced_at_the_plan_s_very_position_are_applied_under_the_lock_not_by_the_plan(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rebuild's swap between the plan and the write: the tracking at the same position, in a
    # new generation, the tables another build's. The plan read the old row; its statements
    # would write the old row's theme back over the swapped-in one.
    m = read_model
    items = ContentItems(store, clock=lambda: START)
    plan = {
        "theme": "Spring", "format": "article", "target_audience": "customers",
        "expected_effect": "awareness", "platforms": ["wechat"], "campaign": "spring",
        "planned_publish_date": PLANNED_DATE,
    }  # fmt: skip
    item = items.plan(ctx(MARKETER), plan).aggregate_id
    items.draft(ctx(MARKETER), item, {"title": "One", "body": "Body", "asset_links": [], "source_notes": "n"})
    reader, builders = _reader(m)
    assert reader.step(builders)
    items.request_review(ctx(MARKETER), item, None)  # the batch planned, then swapped under
    made: list[dict[str, Plan]] = []

    def swapped_after(*args: Any) -> dict[str, Plan]:
        found = plans(*args)
        made.append(found)
        with m.db.write(m.projections["item_status"].live_tables()) as tx:
            position = m.recorders["item_status"].lock(tx, APPLICATION_NAME)
            m.recorders["item_status"].reset(tx, APPLICATION_NAME, position)
            tx.execute("UPDATE {item_status} SET theme = 'rebuilt'", {})
        return found

    monkeypatch.setattr(batches_module, "plans", swapped_after)
    assert reader.step(builders)
    assert "item_status" in made[0], "planned before the swap"
    assert [(r["theme"], r["state"]) for r in m.list_items().items] == [("rebuilt", "in_review")]


def test_small_batches_of_every_kind_of_event_equal_a_rebuild(
    store: EventStore,
    read_model: ReadModel,
    settings: Settings,
    clock: ManualClock,
) -> None:
    # Batch boundaries everywhere in the lives of items, interactions, accounts and feedback:
    # planned where possible, the rest under the lock, the rows a rebuild's.
    Scenario(store, seed=86).run(items=20, open_at_once=5, finish=False)
    driver = driver_for(store, settings, clock)
    quarter_of_activity(driver)
    driver.run()
    reader, builders = _reader(read_model, batch_size=3)
    while reader.step(builders):
        pass
    assert read_model.positions(NAMES) == dict.fromkeys(NAMES, store.head())
    incremental = snapshot(read_model)
    for name in NAMES:
        rebuild(read_model, name)
    assert snapshot(read_model) == incremental
