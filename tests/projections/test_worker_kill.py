"""A worker process killed with SIGKILL at random moments loses and duplicates nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import NAMES, ReadModel, rebuild
from tests.projections.scenario import Scenario, snapshot
from tests.support.figures import Figures

WORKER = [sys.executable, "-m", "nm_workflow.interface.cli_projections", "run"]
BACKLOG = 100  # events a worker finds to do when it starts: ten batches of NM_PROJECTION_BATCH_SIZE


def worker_environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NM_")}
    env |= {
        "NM_DATA_DIR": str(settings.data_dir),
        "NM_PROJECTION_BATCH_SIZE": "10",  # many transactions: many moments to be killed in
        "NM_PROJECTION_POLL_INTERVAL": "0.05",
    }
    if settings.database_url is not None:
        env["NM_DATABASE_URL"] = settings.database_url
    return env


def spawn(env: dict[str, str], log: Path, stdout: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(WORKER, env=env, stdout=stdout, stderr=stderr)


def write_until(done: threading.Event, scenario: Scenario, items: int) -> None:
    """Keep the stream flowing until the killing is done and at least `items` items were planned."""
    while not done.is_set() or scenario.planned < items:
        scenario.run(scenario.planned + 10, open_at_once=30)


def kill_a_worker_at_work(env: dict[str, str], log: Path, rng: random.Random, read_model: ReadModel) -> bool:
    """Start a worker, kill it a random moment after it started; True if it had progressed, not caught up."""
    # A backlog first: woken by every append (LISTEN), a worker otherwise keeps up with the writer.
    deadline = time.monotonic() + 30
    while read_model.head() - min(read_model.positions().values()) < BACKLOG and time.monotonic() < deadline:
        time.sleep(0.05)
    before = min(read_model.positions().values())
    worker = spawn(env, log, stdout=subprocess.PIPE)
    assert worker.stdout is not None
    worker.stdout.readline()  # started
    # The random moment is measured from the worker's first committed batch, not from its start:
    # on a loaded machine a worker may take longer than any fixed delay to reach its first batch.
    deadline = time.monotonic() + 30
    while min(read_model.positions().values()) == before and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.3))
    head = read_model.head()
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    worker.stdout.close()
    return before < min(read_model.positions().values()) < head


@pytest.mark.slow
def test_a_worker_killed_at_random_moments_ends_with_the_rows_of_a_clean_rebuild(
    settings: Settings, store: EventStore, read_model: ReadModel, tmp_path: Path, figures: Figures
) -> None:
    env, log, rng = worker_environment(settings), tmp_path / "worker.log", random.Random(2024)
    done, scenario = threading.Event(), Scenario(store, seed=5)
    writer = threading.Thread(target=write_until, args=(done, scenario, 150))
    writer.start()
    time.sleep(2)  # a backlog first, so that the workers are killed while they have work to do
    killed_mid_work, kills = 0, 0
    try:
        while (killed_mid_work < 8 or store.head() < 2000) and kills < 100:
            killed_mid_work += kill_a_worker_at_work(env, log, rng, read_model)
            kills += 1
    finally:
        done.set()
        writer.join()
    assert store.head() > 2000, "a stream of thousands of events"
    assert killed_mid_work >= 8, f"only {killed_mid_work} of {kills} kills hit a worker at work"

    # The catch-up (over ten thousand events: the writer runs at full speed meanwhile) in the default
    # batches: small ones give the kills many moments to hit, and took a minute to catch up.
    catch_up = {k: v for k, v in env.items() if k != "NM_PROJECTION_BATCH_SIZE"}
    worker = spawn(catch_up, log, stdout=subprocess.PIPE)
    assert worker.stdout is not None
    assert b"Running projections" in worker.stdout.readline()  # its signal handlers are set
    try:
        assert read_model.wait_for(store.head(), timeout=90), log.read_text()[-3000:]
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()[-3000:]

    after_kills = snapshot(read_model)
    for name in NAMES:
        rebuild(read_model, name)
    assert snapshot(read_model) == after_kills
    assert len(after_kills["audit_trail"]) == store.head()
    rows = sum(len(table) for table in after_kills.values())
    figures(events=store.head(), faults_injected=kills, killed_mid_work=killed_mid_work, rows=rows, lost=0)
