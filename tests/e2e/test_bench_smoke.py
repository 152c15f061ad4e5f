"""The benchmark keeps working (its numbers are read by people, not asserted)."""

from __future__ import annotations

from bench.commands import report, run
from nm_workflow.application.settings import Settings


def test_the_command_benchmark_runs_and_reports_ratios(settings: Settings) -> None:
    results = run(settings, n=10)
    assert next(iter(results)).startswith("baseline")
    assert len(results) == 4
    assert all(rate > 0 for rate in results.values())
    lines = report(results).splitlines()
    assert lines[1].endswith("1.00x")
    assert len(lines) == 5
