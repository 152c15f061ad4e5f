"""The projections thread beats at each pass, so that serve can tell a hung worker (ADR 0078)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import ProjectionSupervisor
from projections.batches import SharedReader
from tests.projections.test_worker_kill import WORKER, worker_environment
from tests.support.waiting import wait_until


def test_the_projections_thread_beats_at_each_look_while_idle(
    make_settings: Callable[..., Settings], store: EventStore
) -> None:
    beats: list[str] = []
    supervisor = ProjectionSupervisor(
        make_settings(projection_poll_interval=0.02),
        beat=lambda: beats.append(threading.current_thread().name),
    )
    supervisor.start()
    try:
        wait_until(lambda: len(beats) >= 5)  # caught up and idle: a beat at each look
        assert set(beats) == {"projections"}  # from the thread doing the work, not a timer of its own
    finally:
        supervisor.stop()


def test_a_pass_that_tries_each_projection_alone_beats_before_each(
    make_settings: Callable[..., Settings], store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each one alone may wait for the write lock as long as the shared batch did: a pass of many
    # such waits must not pass for a hang.
    def fails(self: SharedReader, builders: object) -> bool:
        raise RuntimeError("the shared batch failed")

    monkeypatch.setattr(SharedReader, "step", fails)
    beats = 0

    def beat() -> None:
        nonlocal beats
        beats += 1

    supervisor = ProjectionSupervisor(make_settings(projection_poll_interval=30), beat=beat)
    supervisor.start()
    try:  # the first pass: one beat before it, one before each projection's batch alone
        wait_until(lambda: beats >= 1 + len(supervisor.names))
    finally:
        supervisor.stop()


def test_projections_run_touches_the_heartbeat_file_it_is_given(settings: Settings, tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    heartbeat.touch()
    first = heartbeat.stat().st_mtime_ns
    env = worker_environment(settings)
    with (tmp_path / "worker.log").open("ab") as log:
        worker = subprocess.Popen(
            [*WORKER, "--heartbeat", str(heartbeat)], env=env, stdout=subprocess.DEVNULL, stderr=log
        )
    try:
        wait_until(lambda: heartbeat.stat().st_mtime_ns != first)
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
