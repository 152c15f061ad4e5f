"""The benchmark keeps working (its numbers are read by people, not asserted)."""

from __future__ import annotations

from bench import commands, compliance, evaluations, interactions, projections
from bench.report import report
from nm_workflow.application.settings import Settings
from projections import NAMES


def test_the_command_benchmark_runs_and_reports_ratios(settings: Settings) -> None:
    results = commands.run(settings, n=10)
    assert next(iter(results)).startswith("baseline")
    assert len(results) == 4
    assert all(rate > 0 for rate in results.values())
    lines = report(results, "ops/s").splitlines()
    assert lines[1].endswith("1.00x")
    assert len(lines) == 5


def test_the_projection_benchmark_runs_and_reports_ratios(settings: Settings) -> None:
    results = projections.run(settings, items=3)
    assert next(iter(results)).startswith("baseline")
    assert len(results) == 1 + len(NAMES)  # the baseline and a rebuild of each projection
    assert all(rate > 0 for rate in results.values())
    assert report(results, "events/s").splitlines()[1].endswith("1.00x")


def test_the_interaction_benchmark_runs_and_reports_ratios(settings: Settings) -> None:
    results = interactions.run(settings, n=10)
    assert next(iter(results)).startswith("baseline")
    assert len(results) == 4
    assert all(rate > 0 for rate in results.values())


def test_the_evaluation_benchmark_runs_and_reports_ratios(settings: Settings) -> None:
    results = evaluations.run(settings, items=8)
    assert next(iter(results)).startswith("baseline")
    assert len(results) == 3
    assert all(rate > 0 for rate in results.values())


def test_the_compliance_benchmark_runs_and_times_the_find_loop_first() -> None:
    seconds = compliance.run(chars=2000, terms=50)
    assert next(iter(seconds)).startswith("baseline: str.find loop")
    assert len(seconds) == 3
    assert all(s > 0 for s in seconds.values())
    assert report({case: 60 / s for case, s in seconds.items()}, "per min").splitlines()[1].endswith("1.00x")
