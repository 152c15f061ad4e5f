"""The projections thread beats at each pass, so that serve can tell a hung worker (ADR 0078)."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import ProjectionSupervisor
from projections.batches import Builder, SharedReader
from projections.failures import FailureLog
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
    heartbeat = os.open(tmp_path / "heartbeat", os.O_RDWR | os.O_CREAT, 0o600)
    first = os.fstat(heartbeat).st_mtime_ns
    env = worker_environment(settings)
    try:
        with (tmp_path / "worker.log").open("ab") as log:
            worker = subprocess.Popen(
                [*WORKER, "--heartbeat-fd", str(heartbeat)],
                env=env, stdout=subprocess.DEVNULL, stderr=log, pass_fds=(heartbeat,),
            )  # fmt: skip
        try:
            wait_until(lambda: os.fstat(heartbeat).st_mtime_ns != first)
        finally:
            worker.terminate()
            assert worker.wait(timeout=30) == 0
    finally:
        os.close(heartbeat)


def test_each_failure_written_or_cleared_waits_for_the_lock_after_a_beat(
    make_settings: Callable[..., Settings], store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new worker's first pass clears every lane's failure, each in a write of its own that may wait
    # for the lock (on SQLite up to twice NM_DB_LOCK_TIMEOUT): thirteen such waits without a beat
    # were a healthy worker killed as hung. Likewise a batch tried alone that fails, then its record.
    events: list[str] = []
    real_clear, real_record = FailureLog.clear, FailureLog.record

    def clear(self: FailureLog, projection: str) -> None:
        events.append("write")
        real_clear(self, projection)

    def record(self: FailureLog, projection: str, position: int, error: str) -> None:
        events.append("write")
        real_record(self, projection, position, error)

    real_shared = SharedReader.step

    def shared(self: SharedReader, builders: Sequence[Builder]) -> bool:
        events.append("write")
        return real_shared(self, builders)

    def fails(self: object, *_: object) -> bool:
        events.append("write")
        raise RuntimeError("the batch failed")

    monkeypatch.setattr(FailureLog, "clear", clear)
    monkeypatch.setattr(FailureLog, "record", record)
    monkeypatch.setattr(SharedReader, "step", shared)
    settings = make_settings(projection_poll_interval=30)
    supervisor = ProjectionSupervisor(settings, beat=lambda: events.append("beat"))
    lanes = len(supervisor.names)
    supervisor.start()
    try:  # the first pass: the shared batch, then each lane's failure shown before cleared
        wait_until(lambda: events.count("write") >= 1 + lanes)
    finally:
        supervisor.stop()
    written = events.count("write")
    monkeypatch.setattr(SharedReader, "step", fails)
    monkeypatch.setattr(Builder, "step", fails)
    supervisor = ProjectionSupervisor(settings, beat=lambda: events.append("beat"))
    supervisor.start()
    try:  # the shared batch failing, then each lane alone failing too: its batch, then its record
        wait_until(lambda: events.count("write") >= written + 1 + 2 * lanes)
    finally:
        supervisor.stop()
    unbeaten = [i for i, event in enumerate(events) if event == "write" and events[i - 1] != "beat"]
    assert unbeaten == [], events
