"""A projection that cannot apply an event says so: status (any process, the CLI) and /health."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.items import ContentItems
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from nm_workflow.domain.timing import utc_text
from nm_workflow.interface.cli_projections import app as projections_cli
from nm_workflow.interface.http.app import create_app
from projections import ProjectionStatus, ProjectionSupervisor, ReadModel
from projections.base import Recorded
from projections.sql import Tx
from tests.projections.scenario import actor
from tests.projections.test_tables import live_one_life

PLAN = {
    "theme": "t", "format": "article", "target_audience": "a", "expected_effect": "e",
    "platforms": ["wechat"], "campaign": None, "planned_publish_date": None,
}  # fmt: skip


def _until(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)
    return value


def _row(read_model: ReadModel, name: str) -> ProjectionStatus:
    return next(row for row in read_model.status([name]) if row.name == name)


def _cli_status(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    monkeypatch.setenv("NM_DATA_DIR", str(settings.data_dir))
    if settings.database_url is not None:
        monkeypatch.setenv("NM_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(projections_cli, ["status", "--json"])
    assert result.exit_code == 0, result.output
    return {row["projection"]: row for row in json.loads(result.output)}


def _health(settings: Settings) -> dict[str, Any]:
    with TestClient(create_app(settings.model_copy(update={"embedded_projections": False}))) as client:
        response = client.get("/health")
    assert response.status_code == 200  # degraded, not down: commands and the other reads work
    answer: dict[str, Any] = response.json()
    return answer


def test_a_failing_projection_is_shown_failing_everywhere_until_it_applies_again(
    settings: Settings, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, head = live_one_life(store)
    worker_view = ReadModel(settings, store)  # the worker process's read model
    projection = worker_view.projections["item_status"]
    working = projection.apply

    def broken(tx: Tx, batch: Sequence[Recorded]) -> None:
        raise ValueError("cannot apply this event")

    monkeypatch.setattr(projection, "apply", broken)
    supervisor = ProjectionSupervisor(settings.model_copy(update={"projection_poll_interval": 0.02}),
                                      ["item_status"], read_model=worker_view)  # fmt: skip
    supervisor.start()
    try:
        elsewhere = ReadModel(settings)  # another process: knows only what the database says
        try:
            failing = _until(lambda: (row := _row(elsewhere, "item_status")).attempts >= 2 and row)
            assert failing.position == 0
            assert failing.lag == head
            assert failing.last_error == "ValueError: cannot apply this event"
            assert failing.failing_since is not None
            assert _row(elsewhere, "audit_trail").last_error is None  # only the failing one

            shown = _cli_status(settings, monkeypatch)["item_status"]
            assert (shown["position"], shown["last error"]) == (0, "ValueError: cannot apply this event")
            assert shown["failing since"] == utc_text(failing.failing_since)

            health = _health(settings)
            assert health["status"] == "degraded"
            failing_projections = health["failing_projections"]
            assert [(f["projection"], f["position"], f["last_error"]) for f in failing_projections] == [
                ("item_status", 0, "ValueError: cannot apply this event")
            ]
            assert failing_projections[0]["failing_since"] == utc_text(failing.failing_since)
            assert failing_projections[0]["failing_since"].endswith("Z")

            monkeypatch.setattr(projection, "apply", working)  # the cause is fixed
            _until(lambda: _row(elsewhere, "item_status").position == head)
            _until(lambda: _row(elsewhere, "item_status").last_error is None)
            assert _row(elsewhere, "item_status").attempts == 0
            assert _health(settings)["status"] == "ok"
            assert _health(settings)["failing_projections"] == []
        finally:
            elsewhere.close()
    finally:
        supervisor.stop()
        worker_view.close()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_row_postgresql_cannot_index_makes_the_projection_fail_loudly(
    settings: Settings, store: EventStore, read_model: ReadModel
) -> None:
    # A key `keys create` accepted before it checked names, planning an item: an actor id no btree
    # index can hold (random, so that PostgreSQL cannot compress it below the limit of 2704 bytes).
    huge = actor(secrets.token_urlsafe(9000), Role.MARKETING, "marketing")
    position = ContentItems(store).plan(CommandContext(actor=huge), PLAN).position
    supervisor = ProjectionSupervisor(settings.model_copy(update={"projection_poll_interval": 0.02}),
                                      ["audit_trail"], read_model=read_model)  # fmt: skip
    supervisor.start()
    try:
        row = _until(lambda: (r := _row(read_model, "audit_trail")).last_error and r)
        assert row.position == 0
        assert row.lag == position
        assert "index row" in row.last_error
        assert _health(settings)["failing_projections"][0]["projection"] == "audit_trail"
    finally:
        supervisor.stop()


def test_a_failure_recorded_by_a_previous_owner_after_the_takeover_is_cleared(
    settings: Settings, store: EventStore
) -> None:
    # After an outage the old owner's last attempt, stuck on the database, can record its failure
    # once the new owner already runs the projection: /health said degraded for good.
    _, head = live_one_life(store)
    supervisor = ProjectionSupervisor(settings.model_copy(update={"projection_poll_interval": 0.02}),
                                      ["item_status"])  # fmt: skip
    supervisor.start()
    try:
        elsewhere = ReadModel(settings)
        try:
            _until(lambda: _row(elsewhere, "item_status").position == head)
            elsewhere.failures.record("item_status", head, "OperationalError: the previous owner's")
            assert _row(elsewhere, "item_status").last_error == "OperationalError: the previous owner's"
            _until(lambda: _row(elsewhere, "item_status").last_error is None)
            assert _health(settings)["failing_projections"] == []
        finally:
            elsewhere.close()
    finally:
        supervisor.stop()
