"""`nm-workflow projections status | rebuild` on the test's database."""

from __future__ import annotations

from typer.testing import CliRunner

from nm_workflow.application.store import EventStore
from nm_workflow.interface.cli_projections import app
from projections import ReadModel
from tests.projections.scenario import snapshot
from tests.projections.test_tables import live_one_life


def test_status_shows_position_head_and_lag(cli_env: CliRunner, store: EventStore) -> None:
    _, position = live_one_life(store)
    head = str(position)
    rebuild_result = cli_env.invoke(app, ["rebuild", "audit_trail"])
    assert rebuild_result.exit_code == 0, rebuild_result.output
    result = cli_env.invoke(app, ["status"])  # not a terminal: tab-separated, a header first
    assert result.exit_code == 0, result.output
    header, *lines = result.output.splitlines()
    assert header.split("\t")[:4] == ["projection", "position", "head", "lag"]
    rows = {cells[0]: cells[1:4] for cells in (line.split("\t") for line in lines)}
    assert rows["audit_trail"] == [head, head, "0"]  # rebuilt: caught up
    assert rows["item_status"] == ["0", head, head]  # never run: the whole log to go


def test_rebuild_builds_the_tables_and_reports_the_position(
    cli_env: CliRunner, store: EventStore, read_model: ReadModel
) -> None:
    _, position = live_one_life(store)
    for name in ("audit_trail", "review_queue"):
        result = cli_env.invoke(app, ["rebuild", name], terminal_width=200)
        assert result.exit_code == 0, result.output
        assert f"{name} rebuilt up to log position {position}" in result.output
    assert len(snapshot(read_model, ["audit_trail"])["audit_trail"]) == position
    assert read_model.positions(["audit_trail", "review_queue"]) == {
        "audit_trail": position,
        "review_queue": position,
    }


def test_rebuild_of_an_unknown_projection_is_refused(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["rebuild", "nothing"])
    assert result.exit_code != 0
    assert "not a projection" in result.output
