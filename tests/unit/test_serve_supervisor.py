"""`serve`'s supervisor and SIGHUP (interface/supervisor.py, ADR 0076): the projection worker is
replaced only once every API worker was, so that a new release that fails to start leaves both
sides on the old one."""

from __future__ import annotations

import multiprocessing
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

import pytest
import uvicorn
from uvicorn.supervisors import Multiprocess

from nm_workflow.interface.supervisor import AnswerOrExit, Supervisor


class _Worker:
    def __init__(self) -> None:
        self.replaced = 0

    def replace(self) -> None:
        self.replaced += 1


def _supervisor(monkeypatch: pytest.MonkeyPatch, worker: _Worker) -> Supervisor:
    monkeypatch.setattr(signal, "signal", lambda *_: None)  # the test process's own handlers stay
    supervisor = Supervisor(uvicorn.Config("app:app"), [], worker)  # type: ignore[arg-type]
    supervisor.processes = [object(), object()]  # type: ignore[list-item]
    return supervisor


def test_a_restart_uvicorn_gave_up_leaves_the_projection_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = _Worker()
    supervisor = _supervisor(monkeypatch, worker)
    monkeypatch.setattr(Multiprocess, "restart_all", lambda _: None)  # a new worker did not start in time
    supervisor.handle_hup()
    assert worker.replaced == 0


def test_every_api_worker_replaced_then_the_projection_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = _Worker()
    supervisor = _supervisor(monkeypatch, worker)

    def replace_all(self: Any) -> None:
        self.processes = [object() for _ in self.processes]

    monkeypatch.setattr(Multiprocess, "restart_all", replace_all)
    supervisor.handle_hup()
    assert worker.replaced == 1


def _child(connection: Connection, answer: bool, seconds: float) -> None:
    if answer:
        connection.send(True)
    time.sleep(seconds)


class _Watched:
    """A real process and the supervisor's end of a pipe to it, as uvicorn's health check has them:
    the worker's end stays open here too, so the pipe alone never says the worker exited."""

    def __init__(self, answer: bool, seconds: float) -> None:
        ours, self.theirs = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=_child, args=(self.theirs, answer, seconds)
        )
        self.process.start()
        self.pipe = AnswerOrExit(ours, self.process.sentinel)

    def end(self) -> None:
        self.process.kill()
        self.process.join()


def test_a_ping_to_a_worker_that_exits_ends_when_it_exits_not_at_the_timeout() -> None:
    watched = _Watched(answer=False, seconds=0.2)
    started = time.monotonic()
    assert watched.pipe.poll(30) is False
    assert time.monotonic() - started < 10


def test_an_answer_is_seen_and_read_through_the_pipe() -> None:
    watched = _Watched(answer=True, seconds=5)
    assert watched.pipe.poll(30) is True
    assert watched.pipe.recv() is True
    watched.end()


def test_an_answer_from_a_worker_that_then_exited_counts_as_no_answer() -> None:
    watched = _Watched(answer=True, seconds=0)
    watched.process.join()  # exited: its status, not a stale answer, is what the supervisor must read
    assert watched.pipe.poll(30) is False


def test_a_worker_that_neither_answers_nor_exits_is_waited_for_the_whole_timeout() -> None:
    watched = _Watched(answer=False, seconds=30)
    started = time.monotonic()
    assert watched.pipe.poll(0.3) is False
    assert time.monotonic() - started >= 0.3
    watched.end()
