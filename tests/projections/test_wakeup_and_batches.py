"""One reader for all projections: woken by appends, not by a poll; a failing projection in a batch."""

from __future__ import annotations

import signal
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from devsupport.server import free_port
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import NAMES, ProjectionSupervisor, ReadModel, rebuild
from projections.base import Recorded
from projections.sql import Tx
from tests.projections.conftest import SupervisorFactory
from tests.projections.scenario import Scenario, snapshot
from tests.projections.test_failures import _until
from tests.projections.test_tables import live_one_life
from tests.projections.test_worker_kill import WORKER, worker_environment

# Longer than every deadline below: a projection that reaches the head in time was woken, not polled.
NEVER = 60.0


def _metric(name: str, projection: str) -> float:
    return REGISTRY.get_sample_value(name, {"projection": projection}) or 0.0


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_burst_from_another_process_wakes_the_projections_through_listen(
    make_settings: Callable[..., Settings], store: EventStore, start_supervisor: SupervisorFactory
) -> None:
    supervisor = start_supervisor(projection_poll_interval=NEVER)
    live_one_life(store)
    assert supervisor.wait_for(store.head(), timeout=10)  # caught up: now it sleeps
    other = EventStore(make_settings())  # another process's store: it cannot signal this one
    try:
        position = Scenario(other, seed=5).run(items=5)
    finally:
        other.close()

    assert supervisor.wait_for(position, timeout=10)
    assert {row.lag for row in supervisor.status()} == {0}


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_worker_process_follows_a_burst_and_shows_it_in_its_metrics(
    settings: Settings, store: EventStore, read_model: ReadModel, tmp_path: Path
) -> None:
    env = worker_environment(settings) | {"NM_PROJECTION_POLL_INTERVAL": str(NEVER)}
    port, log = free_port(), tmp_path / "worker.log"
    with log.open("wb") as stderr:
        worker = subprocess.Popen([*WORKER, "--metrics-port", str(port)], env=env,
                                  stdout=subprocess.PIPE, stderr=stderr)  # fmt: skip
    try:
        assert worker.stdout is not None
        assert b"Running projections" in worker.stdout.readline()
        _, first = live_one_life(store)
        assert read_model.wait_for(first, timeout=15), log.read_text()
        position = Scenario(store, seed=5).run(items=5)  # while the worker sleeps

        assert read_model.wait_for(position, timeout=15), log.read_text()
        scraped = _until(lambda: (m := _scrape(port))[("nm_projection_lag_events", "item_status")] == 0 and m)
        assert all(scraped[("nm_projection_lag_events", name)] == 0 for name in NAMES)
        rows = len(snapshot(read_model, ["audit_trail"])["audit_trail"])
        assert scraped[("nm_projection_events_applied_total", "audit_trail")] == rows == position
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()


def _scrape(port: int) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, sample.labels["projection"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "projection" in sample.labels
    }


def test_this_process_s_own_commits_wake_its_projections(settings: Settings, store: EventStore) -> None:
    read_model = ReadModel(settings, store)
    supervisor = ProjectionSupervisor(
        settings.model_copy(update={"projection_poll_interval": NEVER}), read_model=read_model
    )
    supervisor.start()
    try:
        _, first = live_one_life(store)
        assert supervisor.wait_for(first, timeout=10)
        applied = _metric("nm_projection_events_applied_total", "audit_trail")
        _, second = live_one_life(store, plan_key="plan-2")

        assert supervisor.wait_for(second, timeout=10)
        # audit_trail takes every event: each one applied once, and counted.
        assert _metric("nm_projection_events_applied_total", "audit_trail") - applied == second - first
        _until(lambda: all(_metric("nm_projection_lag_events", n) == 0 for n in NAMES))
    finally:
        supervisor.stop()
        read_model.close()


def test_a_projection_failing_mid_batch_keeps_its_rows_and_tracking_and_holds_no_other_back(
    settings: Settings, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_model = ReadModel(settings, store)
    _, first = live_one_life(store)
    _run_until(read_model, first)
    before = snapshot(read_model, ["item_status"])
    _, second = live_one_life(store, plan_key="plan-2")  # one batch for the runner started below
    projection = read_model.projections["item_status"]
    third = [n.id for n in store.notifications(projection.topics, start=first + 1)][2]
    handle = projection.handle

    def fails_on_the_third(tx: Tx, recorded: Recorded) -> None:
        if recorded.position == third:  # after two of the batch's events were written
            raise ValueError("cannot apply this event")
        handle(tx, recorded)

    monkeypatch.setattr(projection, "handle", fails_on_the_third)
    supervisor = ProjectionSupervisor(settings, read_model=read_model)
    supervisor.start()
    try:
        others = [name for name in NAMES if name != "item_status"]
        assert supervisor.wait_for(second, others, timeout=10)
        failing = _until(lambda: next((r for r in read_model.status(["item_status"]) if r.last_error), None))
        assert failing.last_error == "ValueError: cannot apply this event"
        assert failing.position == first
        assert snapshot(read_model, ["item_status"]) == before, "the two events before it were rolled back"

        monkeypatch.setattr(projection, "handle", handle)  # the cause is fixed
        assert supervisor.wait_for(second, timeout=15)
        _until(lambda: read_model.status(["item_status"])[0].last_error is None)
    finally:
        supervisor.stop()
    incremental = snapshot(read_model)
    for name in NAMES:
        rebuild(read_model, name)
    assert snapshot(read_model) == incremental, "every event applied exactly once"
    read_model.close()


def _run_until(read_model: ReadModel, position: int) -> None:
    supervisor = ProjectionSupervisor(read_model.settings, read_model=read_model)
    supervisor.start()
    try:
        assert supervisor.wait_for(position, timeout=10)
    finally:
        supervisor.stop()
