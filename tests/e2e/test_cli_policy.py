"""`nm-workflow policy show|diff` against the test's database."""

from __future__ import annotations

import copy

import pytest
from typer.testing import CliRunner

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.policies import Policies
from nm_workflow.application.policy_book import seed_rules
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from nm_workflow.interface.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def service_database(cli_settings: Settings) -> None:
    """The database the service made at its first start: `policy show` reads one, it makes none."""
    EventStore(cli_settings).close()


def propose_version_2(settings: Settings) -> None:
    rules = copy.deepcopy(seed_rules(48))
    rules["stage_hours"]["legal"] = 72
    absolute = rules["lexicon"]["categories"][0]
    absolute["terms"] = [t for t in absolute["terms"] if t != "永久"] + ["史上最强"]
    rules["lexicon"]["categories"].append(
        {"name": "brand", "severity": "warn", "legal_basis": "Company brand guide", "terms": ["友商"]}
    )
    store = EventStore(settings)
    try:
        Policies(store).propose(
            CommandContext(Actor("mia", frozenset({Role.MARKETING}), "marketing")), rules, "r"
        )
    finally:
        store.close()


def test_show_prints_the_version_in_force_with_its_rules_and_lexicon(cli_settings: Settings) -> None:
    shown = runner.invoke(app, ["policy", "show"])
    assert shown.exit_code == 0, shown.output
    assert "1 (seed)" in shown.output
    assert "最佳" in shown.output
    assert "art. 9(3)" in shown.output
    assert "Ch. 8" in shown.output


def test_diff_names_each_changed_rule_and_lexicon_term(cli_settings: Settings) -> None:
    runner.invoke(app, ["policy", "show"])  # records the seed
    propose_version_2(cli_settings)
    shown = runner.invoke(app, ["policy", "show", "2"])
    assert "2 (proposed)" in shown.output
    diff = runner.invoke(app, ["policy", "diff", "1", "2"])
    assert diff.exit_code == 0, diff.output
    lines = diff.output.splitlines()
    assert any(line.startswith("stage_hours:") and '"legal": 72' in line for line in lines)
    assert "lexicon: absolute-terms + 史上最强" in lines
    assert "lexicon: absolute-terms - 永久" in lines
    assert "lexicon: category brand added (warn, 1 terms)" in lines
    same = runner.invoke(app, ["policy", "diff", "1", "1"])
    assert "same rules" in same.output


def test_an_unknown_version_is_one_clear_line(cli_settings: Settings) -> None:
    result = runner.invoke(app, ["policy", "show", "7"])
    assert result.exit_code == 2  # a bad argument (docs/operators.md)
    assert "no version 7" in result.output
