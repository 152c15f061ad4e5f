"""`serve`'s supervisor and SIGHUP (interface/supervisor.py, ADR 0076): the projection worker is
replaced only once every API worker was, so that a new release that fails to start leaves both
sides on the old one."""

from __future__ import annotations

import signal
from typing import Any

import pytest
import uvicorn
from uvicorn.supervisors import Multiprocess

from nm_workflow.interface.supervisor import Supervisor


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
