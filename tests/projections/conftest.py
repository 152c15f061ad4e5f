"""Fixtures of the read side's tests: a read model and supervisors on the test's database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.metadata import WorkflowAggregate
from projections import ProjectionSupervisor, ReadModel
from tests.projections.quarter_scenario import ManualClock

SupervisorFactory = Callable[..., ProjectionSupervisor]


@pytest.fixture
def read_model(settings: Settings, store: EventStore) -> Iterator[ReadModel]:
    model = ReadModel(settings, store)
    yield model
    model.close()


@pytest.fixture
def start_supervisor(make_settings: Callable[..., Settings]) -> Iterator[SupervisorFactory]:
    """Start supervisors (each with its own store, like separate processes); stopped at the end."""
    started: list[ProjectionSupervisor] = []

    def start(names: list[str] | None = None, **overrides: Any) -> ProjectionSupervisor:
        polling = {"projection_poll_interval": 0.02, **overrides}
        supervisor = ProjectionSupervisor(make_settings(**polling), names)
        supervisor.start()
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.stop()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """Events stamped with a clock the test moves (the library asks each event class for the time)."""
    manual = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    monkeypatch.setattr(WorkflowAggregate.Event, "create_timestamp", staticmethod(manual))
    return manual
