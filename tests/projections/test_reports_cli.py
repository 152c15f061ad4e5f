"""`nm-workflow reports quarterly | reproduce` on the test's database."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from nm_workflow.application import figures
from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.items import ContentItems
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from nm_workflow.interface.cli_reports import app
from projections import ReadModel, rebuild
from tests.projections.quarter_scenario import ManualClock, QuarterDriver, who

BOARD = "board"


def signed_quarter(store: EventStore, settings: Settings, clock: ManualClock) -> tuple[QuarterDriver, str]:
    driver = QuarterDriver(ContentItems(store, clock), clock, seed=4)
    driver.run_quarter(10)
    evaluations = Evaluations(store, settings)
    opened = {"kind": "quarterly_evaluation", "quarter": "2026Q3"}
    evaluation = evaluations.open(who("olga", Role.MANAGEMENT, BOARD), opened).aggregate_id
    finding = {"text": "ok", "severity": "low"}
    evaluations.record_findings(who("olga", Role.MANAGEMENT, BOARD), evaluation, finding)
    evaluations.sign_off(who("sam", Role.MANAGEMENT, BOARD), evaluation)
    return driver, str(evaluation)


def test_reproduce_says_reproduced_and_shows_later_corrections_for_information(
    cli_env: CliRunner, store: EventStore, settings: Settings, clock: ManualClock
) -> None:
    driver, evaluation = signed_quarter(store, settings, clock)
    first = cli_env.invoke(app, ["reproduce", evaluation], terminal_width=200)
    assert first.exit_code == 0, first.output
    assert "Reproduced" in first.output
    assert "For information" not in first.output

    measured = next(s for s in driver.sent if s.observations)
    platform, observations = next(iter(measured.observations.items()))
    driver.observe(measured, platform, max(at for at, _ in observations).replace(microsecond=5), {"reach": 1})
    later = cli_env.invoke(app, ["reproduce", evaluation], terminal_width=200)
    assert later.exit_code == 0, later.output
    assert "Reproduced" in later.output
    assert "For information" in later.output
    assert "reach" in later.output


def test_reproduce_exits_1_and_names_each_figure_the_log_no_longer_gives(
    cli_env: CliRunner,
    store: EventStore,
    settings: Settings,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, evaluation = signed_quarter(store, settings, clock)
    # As if the definition of a figure had changed since the sign-off.
    changed = tuple(
        dataclasses.replace(f, part=lambda cell: [len(cell.items) + 1]) if f.name == "items_planned" else f
        for f in figures.FIGURES
    )
    monkeypatch.setattr(figures, "FIGURES", changed)
    result = cli_env.invoke(app, ["reproduce", evaluation], terminal_width=200)
    assert result.exit_code == 1, result.output
    assert "DIFFERENT" in result.output
    assert "items_planned" in result.output
    assert "reach" not in result.output


def test_reproduce_refuses_what_it_cannot_reproduce(cli_env: CliRunner, store: EventStore) -> None:
    assert cli_env.invoke(app, ["reproduce", "not-an-id"]).exit_code == 2
    unknown = cli_env.invoke(app, ["reproduce", "00000000-0000-0000-0000-000000000001"])
    assert unknown.exit_code == 2
    assert "No Evaluation" in unknown.output


def test_the_quarterly_report_prints_and_says_when_the_projection_is_behind(
    cli_env: CliRunner, store: EventStore, settings: Settings, read_model: ReadModel, clock: ManualClock
) -> None:
    signed_quarter(store, settings, clock)
    behind = cli_env.invoke(app, ["quarterly", "2026Q3"], terminal_width=250)
    assert behind.exit_code == 0, behind.output
    assert "behind the log" in behind.output
    rebuild(read_model, "quarterly_evaluation")
    current = cli_env.invoke(app, ["quarterly", "2026q3", "--department", "marketing"], terminal_width=250)
    assert current.exit_code == 0, current.output
    assert "items_planned" in current.output
    assert "marketing" in current.output
    assert "behind" not in current.output
    for spelling in ("wechat", " WeChat"):  # a platform as the commands store it, like the API's filter
        shown = cli_env.invoke(app, ["quarterly", "2026Q3", "--platform", spelling], terminal_width=250)
        assert " / wechat" in shown.output, spelling
    wrong = cli_env.invoke(app, ["quarterly", "2026Q9"])
    assert wrong.exit_code == 2
    assert "not a quarter" in wrong.output
