"""Incremental builds equal rebuilds from scratch, row for row, also when rebuilt under load."""

from __future__ import annotations

import threading

import pytest

from nm_workflow.application.store import EventStore
from projections import NAMES, ReadModel, rebuild
from tests.projections.conftest import SupervisorFactory
from tests.projections.scenario import Scenario, snapshot


@pytest.mark.slow
def test_after_a_long_random_scenario_every_table_equals_its_rebuild(
    store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    # Writes first (concurrency is the other tests' subject), then small batches, so that
    # batch boundaries fall everywhere in the items' lives.
    Scenario(store, seed=20240601).run(items=200, open_at_once=40, finish=False)
    supervisor = start_supervisor(projection_batch_size=7)
    assert supervisor.wait_for(store.head(), timeout=60)

    incremental = snapshot(read_model)
    for name in NAMES:
        rebuild(read_model, name)

    assert snapshot(read_model) == incremental
    sizes = {table: len(rows) for table, rows in incremental.items()}
    assert sizes["item_status"] == 200
    assert sizes["audit_trail"] == store.head()
    assert all(sizes[t] > 0 for t in ("review_queue", "review_history", "publication_log", "item_metrics"))
    # Every path was taken.
    states = {dict(row)["state"] for row in incremental["item_status"]}
    assert {"drafting", "in_review", "published", "withdrawn", "cancelled"} <= states
    outcomes = {dict(row)["outcome"] for row in incremental["review_history"]}
    assert outcomes == {"approved", "changes_requested", "superseded", "cancelled"}


def test_a_rebuild_while_commands_keep_arriving_ends_identical_to_a_clean_build(
    store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    supervisor = start_supervisor(projection_batch_size=20)
    writer = threading.Thread(target=Scenario(store, seed=7).run, kwargs={"items": 30, "open_at_once": 15})
    writer.start()
    rebuilt = 0
    while writer.is_alive() or rebuilt < len(NAMES):
        rebuild(read_model, NAMES[rebuilt % len(NAMES)])
        rebuilt += 1
    writer.join()
    assert supervisor.wait_for(store.head(), timeout=60)

    after_rebuilds = snapshot(read_model)
    for name in NAMES:
        rebuild(read_model, name)
    assert snapshot(read_model) == after_rebuilds
    assert len(after_rebuilds["audit_trail"]) == store.head()
