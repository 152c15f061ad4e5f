"""On SQLite a shared batch is worked out before the write turn, and only written under it (ADR 0086).

What a projection's handlers do runs while SQLite's write lock is free for the commands; under it
the batch only moves the tracking rows and runs the statements kept. Where a plan could be wrong
(a projection that reads what it wrote in the batch, tables replaced since the plan read them, a
tracking moved elsewhere), the projection is applied under the turn as before, the rows end as a
rebuild's, and `nm_projection_plans_total` says why.
"""

from __future__ import annotations

import copy
import logging
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError
from prometheus_client import REGISTRY

from nm_workflow.application.items import ContentItems
from nm_workflow.application.policies import Policies
from nm_workflow.application.policy_book import seed_rules
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import APPLICATION_NAME, EventStore
from nm_workflow.domain.roles import Role
from projections import NAMES, ReadModel, rebuild
from projections import batches as batches_module
from projections.batches import Builder, SharedReader, TrackingMoved
from projections.planned import NeedsTheTurn, Plan, _Planning, plans
from projections.sql import Tx
from tests.projections.patches import fail_once
from tests.projections.quarter_scenario import ManualClock
from tests.projections.scenario import Scenario, snapshot
from tests.projections.test_policy_tables import DEPARTMENTS
from tests.projections.test_policy_tables import MARKETER as PROPOSER
from tests.projections.test_supervision_figures import driver_for, quarter_of_activity
from tests.projections.test_tables import MARKETER, PLANNED_DATE, START, ctx, live_one_life

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _reader(
    m: ReadModel, batch_size: int = 500, names: tuple[str, ...] = NAMES
) -> tuple[SharedReader, list[Builder]]:
    builders = [Builder(m.projections[n], m.recorders[n], m.db, m.source, batch_size) for n in names]
    return SharedReader(builders, m.db, m.source, batch_size), builders


def _tally(name: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("nm_projection_plans_total", {"projection": name, "outcome": outcome})
        or 0.0
    )


class Watch:
    """Which projections' handlers ran, and which of them while a writer held SQLite's write lock,
    as another connection sees it (`BEGIN IMMEDIATE` refused at once)."""

    def __init__(self) -> None:
        self.applied: set[str] = set()
        self.under_the_lock: set[str] = set()


@pytest.fixture
def watch(read_model: ReadModel, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watch]:
    seen = Watch()
    probe = sqlite3.connect(settings.sqlite_path, timeout=0, isolation_level=None)
    for name in NAMES:
        projection = read_model.projections[name]

        def watched(
            tx: Tx, batch: Any, apply: Callable[[Tx, Any], None] = projection.apply, name: str = name
        ) -> None:
            seen.applied.add(name)
            try:
                probe.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                seen.under_the_lock.add(name)
            else:
                probe.execute("ROLLBACK")
            apply(tx, batch)

        monkeypatch.setattr(projection, "apply", watched)
    yield seen
    probe.close()


def _equal_a_rebuild(m: ReadModel) -> None:
    incremental = snapshot(m)
    for name in NAMES:
        rebuild(m, name)
    assert snapshot(m) == incremental


def test_no_handler_runs_while_the_batch_holds_sqlite_s_write_lock(
    store: EventStore, read_model: ReadModel, watch: Watch
) -> None:
    _, position = live_one_life(store)
    planned = _tally("item_status", "planned")
    reader, builders = _reader(read_model)
    assert reader.step(builders)
    assert watch.under_the_lock == set()
    assert {"item_status", "audit_trail", "quarterly_evaluation"} <= watch.applied
    assert _tally("item_status", "planned") == planned + 1
    assert read_model.positions(NAMES) == dict.fromkeys(NAMES, position)
    assert [r["state"] for r in read_model.list_items().items] == ["withdrawn"]
    audited = [r["position"] for r in read_model.audit_trail(cursor=None, limit=500).items]
    assert sorted(audited) == list(range(1, position + 1)), "every event once"


def _interactions(store: EventStore, settings: Settings, clock: ManualClock) -> None:
    """Interactions received, answered, escalated and resolved: several events of each in a batch."""
    driver = driver_for(store, settings, clock)
    quarter_of_activity(driver)
    driver.run()


def _reviews(store: EventStore, settings: Settings, clock: ManualClock) -> None:
    """A policy version proposed, then reviewed by two departments: two reviews of a batch."""
    policies = Policies(store)
    policies.propose(ctx(PROPOSER), copy.deepcopy(seed_rules(48)), "terms")
    for department in DEPARTMENTS[:2]:
        policies.review(
            ctx(Actor(f"head-{department}", frozenset({Role.DEPARTMENT_HEAD}), department)), 2, True, []
        )


@pytest.mark.parametrize(
    ("history", "reader_of_its_writes"),
    [(_interactions, "interaction_queue"), (_reviews, "policy_versions")],
    ids=["interactions", "policy reviews"],
)
def test_a_projection_that_reads_what_it_wrote_in_the_batch_is_applied_under_the_lock(
    store: EventStore,
    read_model: ReadModel,
    settings: Settings,
    clock: ManualClock,
    watch: Watch,
    history: Callable[[EventStore, Settings, ManualClock], None],
    reader_of_its_writes: str,
) -> None:
    # Its handler reads a row back with a statement of its own after an earlier event of the batch
    # wrote it: a plan would read the row as it was before the batch. Under the lock it sees it.
    history(store, settings, clock)
    refused = _tally(reader_of_its_writes, "reads_its_writes")
    reader, builders = _reader(read_model)
    assert reader.step(builders)
    assert _tally(reader_of_its_writes, "reads_its_writes") == refused + 1
    assert reader_of_its_writes in watch.under_the_lock
    assert "audit_trail" in watch.applied - watch.under_the_lock
    _equal_a_rebuild(read_model)


@pytest.mark.parametrize(
    ("first", "then", "refused"),
    [
        ("INSERT INTO {item_status} (item_id) VALUES (1)", "SELECT * FROM {item_status}", True),
        ("INSERT INTO {item_status} (item_id) VALUES (1)", "SELECT * FROM {review_queue}", False),
        ("INSERT INTO {item_status} (item_id) VALUES (1)", "SELECT * FROM item_status", True),
        ("INSERT INTO elsewhere (n) VALUES (1)", "SELECT * FROM {review_queue}", True),
        (None, "SELECT * FROM item_status", False),
    ],
    ids=["its own table", "another table", "a read naming no table", "a write naming none", "no write"],
)
def test_a_read_after_a_write_of_its_tables_is_refused_in_a_plan(
    read_model: ReadModel, first: str | None, then: str, refused: bool
) -> None:
    tables = {
        **read_model.projections["item_status"].live_tables(),
        **read_model.projections["review_queue"].live_tables(),
    }
    with read_model.db.read(tables) as reader:
        planning = _Planning(reader, Plan(1))
        if first is not None:
            planning.execute(first)
        if refused:
            with pytest.raises(NeedsTheTurn):
                planning.all(then)
        else:
            assert planning.all(then) == []


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
    replaced = _tally("item_status", "replaced")
    assert reader.step(builders)
    assert "item_status" in made[0], "planned before the swap"
    assert _tally("item_status", "replaced") == replaced + 1
    assert [(r["theme"], r["state"]) for r in m.list_items().items] == [("rebuilt", "in_review")]


def test_a_projection_applied_elsewhere_meanwhile_is_not_planned_and_its_batch_applied_once(
    store: EventStore, read_model: ReadModel, make_settings: Callable[..., Settings]
) -> None:
    _, position = live_one_life(store)
    other = ReadModel(make_settings(), store)  # another process running the same projection
    try:
        reader, builders = _reader(read_model, names=("audit_trail",))
        assert builders[0].position == 0  # what this process last saw
        Builder(
            other.projections["audit_trail"], other.recorders["audit_trail"], other.db, other.source, 500
        ).catch_up()
        moved = _tally("audit_trail", "moved")
        with pytest.raises(TrackingMoved):
            reader.step(builders)
        assert _tally("audit_trail", "moved") == moved + 1
    finally:
        other.close()
    audited = [r["position"] for r in read_model.audit_trail(cursor=None, limit=500).items]
    assert sorted(audited) == list(range(1, position + 1)), "every event once"


def test_a_projection_that_fails_only_while_planned_is_applied_under_the_lock(
    store: EventStore, read_model: ReadModel, watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    live_one_life(store)
    fail_once(read_model.projections["item_status"], RuntimeError("only while planned"), monkeypatch)
    failed = _tally("item_status", "failed")
    reader, builders = _reader(read_model)
    assert reader.step(builders)
    assert _tally("item_status", "failed") == failed + 1
    assert watch.under_the_lock == {"item_status"}
    assert [r["state"] for r in read_model.list_items().items] == ["withdrawn"]


def test_without_a_snapshot_to_plan_in_the_batch_is_applied_under_the_lock(
    store: EventStore,
    read_model: ReadModel,
    watch: Watch,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live_one_life(store)

    def unavailable(tables: Any) -> Any:
        raise OperationalError("disk I/O error")

    before = _tally("audit_trail", "unavailable")
    reader, builders = _reader(read_model)
    with monkeypatch.context() as patched, caplog.at_level(logging.WARNING, logger="projections"):
        patched.setattr(read_model.db, "read", unavailable)
        assert reader.step(builders)
    assert "Could not work out a batch before the write turn" in caplog.text
    assert _tally("audit_trail", "unavailable") == before + 1
    assert watch.under_the_lock == watch.applied
    assert [r["state"] for r in read_model.list_items().items] == ["withdrawn"]


def test_small_batches_of_every_kind_of_event_equal_a_rebuild(
    store: EventStore, read_model: ReadModel, settings: Settings, clock: ManualClock
) -> None:
    # Batch boundaries everywhere in the lives of items, interactions, accounts, feedback and a
    # policy version: planned where possible, the rest under the lock, the rows a rebuild's.
    Scenario(store, seed=86).run(items=20, open_at_once=5, finish=False)
    _interactions(store, settings, clock)
    _reviews(store, settings, clock)
    reader, builders = _reader(read_model, batch_size=3)
    while reader.step(builders):
        pass
    assert read_model.positions(NAMES) == dict.fromkeys(NAMES, store.head())
    _equal_a_rebuild(read_model)
