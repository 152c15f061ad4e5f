"""The benchmark keeps working (its numbers are read by people, not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import (
    appends,
    audit,
    batches,
    commands,
    compliance,
    cpu,
    evaluations,
    history,
    interactions,
    load,
    memory,
    projections,
    proofs,
    roundtrips,
    sustained,
)
from bench.client import WALK
from bench.report import load_summary, report
from nm_workflow.application.settings import Settings
from projections import NAMES

ROOT = Path(__file__).resolve().parents[2]


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


def test_each_projection_benchmark_case_is_the_median_of_rounds_run_in_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []
    timings = iter([1.0, 10.0, 5.0, 30.0, 2.0, 20.0])  # a, b, a, b, a, b

    def timed(operation: Callable[[], object]) -> float:
        operation()
        return next(timings)

    monkeypatch.setattr(projections, "_seconds", timed)
    cases: dict[str, Callable[[], object]] = {"a": lambda: ran.append("a"), "b": lambda: ran.append("b")}
    assert projections.medians(cases, 3) == {"a": 2.0, "b": 20.0}
    assert ran == ["a", "b"] * 3  # in turn: each round under the same conditions for every case


def test_the_interaction_benchmark_runs_and_reports_ratios(settings: Settings) -> None:
    results = interactions.run(settings, n=10)
    assert next(iter(results)).startswith("baseline")
    assert len(results) == 4
    assert all(rate > 0 for rate in results.values())


def test_busy_cores_are_the_busy_share_of_the_machines_ticks_times_its_cores() -> None:
    assert cpu.busy_cores((10, 100), (15, 110)) == (os.cpu_count() or 1) * 0.5
    assert cpu.busy_cores(None, (15, 110)) is None  # no /proc/stat: no figure rather than a wrong one
    assert cpu.busy_cores((10, 100), (10, 100)) is None
    ticks = cpu.machine_ticks()
    assert ticks is None or 0 < ticks[0] < ticks[1]


def test_the_load_benchmark_drives_each_server_without_errors(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    admin_url = request.getfixturevalue("postgres_admin_url") if backend == "postgres" else None
    # SQLite: serve's own choice, named as what it is (a worker, ADR 0076); PostgreSQL: a worker asked
    # for by name.
    asked, served = ("worker", "worker") if backend == "postgres" else ("default", "worker")
    sizes = load.Sizes((2,), (1,), (backend,), warmup=0.2, seconds=0.5, projections=(asked,))
    rows = load.run(sizes, tmp_path, admin_url, lambda _: None)
    assert [row["server"] for row in rows] == ["trivial", "plain", "nm-workflow"]
    assert {row["projections"] for row in rows} == {served}
    for row in rows:
        assert row["commands"] > 0, row
        assert row["errors"] == 0, row["first_errors"]
        assert row["p50_ms"] <= row["p99_ms"]
        assert row["server_cpu_ms"] > 0, "the server's CPU per command is measured"
        assert row["client_cpu_ms"] > 0, "the load process's CPU per command is measured"
        # The machine's busy cores include the server's and the load's, which were both working.
        assert 0 < row["machine_busy_cores"] <= (os.cpu_count() or 1) + 0.05, row
        # SQLite runs inside the server; PostgreSQL's server is found by its port and measured.
        assert (row["database_cpu_ms"] is None) == (backend == "sqlite"), row
        # Only the service's serve starts a projection worker: its share of the server's CPU (in
        # clock ticks, 0 for a worker that used less than one in the short load).
        if row["server"] == "nm-workflow":
            assert 0 <= row["projections_cpu_ms"] <= row["server_cpu_ms"], row
        else:
            assert row["projections_cpu_ms"] is None, row
    service = rows[-1]
    # With "worker", the API processes project nothing: only the worker process serve started can catch up.
    assert service["catch_up_seconds"] is not None, "the projections reached the log head after the load"
    (summary,) = load_summary(rows)
    assert summary["vs_trivial"] == service["per_second"] / rows[0]["per_second"]
    assert summary["vs_plain"] == service["per_second"] / rows[1]["per_second"]
    # SQLite's write turn, from the service's /metrics: every command's save held it, and the worker's
    # batches; shares of the load's time, each at most the whole of it.
    if backend == "sqlite":
        assert 0 < service["turn_held_store"] <= 1, service
        assert 0 < service["turn_held_projections"] <= 1, service
        assert summary["turn_held_store"] == service["turn_held_store"]
    else:
        assert "turn_held_store" not in service
        assert summary["turn_held_store"] is None
    assert "turn_held_store" not in rows[0], "a baseline has no turn metrics"


def test_the_sustained_load_keeps_each_window_of_each_server_and_compares_late_with_early(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    admin_url = request.getfixturevalue("postgres_admin_url") if backend == "postgres" else None
    sizes = load.Sizes((1,), (1,), (backend,), warmup=0.1, seconds=0.3)
    results = sustained.run(backend, tmp_path, admin_url, 4, sizes)
    assert list(results) == ["plain", "nm-workflow"]
    for server, figures in results.items():
        windows = figures["windows"]
        assert len(windows) == 4
        assert all(w["completed"] > 0 and w["server_cpu_ms"] > 0 for w in windows), windows
        # A projection worker only where serve starts one: SQLite's nm-workflow (ADR 0076).
        worker = server == "nm-workflow" and backend == "sqlite"
        assert all((w["projections_cpu_ms"] is not None) == worker for w in windows), windows
        assert figures["early"]["per_second"] == windows[0]["per_second"]  # a quarter of four: one
        assert figures["late_vs_early"]["per_second"] == windows[-1]["per_second"] / windows[0]["per_second"]
    shown = sustained.table(results)
    assert "late/early: per_second" in shown
    assert ("projections_cpu_ms" in shown) == (backend == "sqlite")


def test_python_m_bench_prints_the_tables_and_writes_json(tmp_path: Path) -> None:
    written = tmp_path / "results.json"
    tiny = "--databases sqlite --clients 1 --workers 1 --seconds 0.3 --warmup 0.1 --commands 5 --items 2"
    tiny += " --appends 3 --events 20 --memory-events 100 --audit-events 20"
    tiny += f" --json {written}"
    done = subprocess.run(
        [sys.executable, "-m", "bench", *tiny.split()], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "DeprecationWarning" not in done.stderr, done.stderr  # e.g. the test client's, without httpx2
    results = json.loads(written.read_text())
    assert results["machine"]["cpus"] == os.cpu_count()
    assert {row["server"] for row in results["http"]["runs"]} == {"trivial", "plain", "nm-workflow"}
    assert results["commands_sqlite"]["HTTP command"] > 0
    assert results["projections_sqlite"]["rebuild item_status"] > 0
    assert results["appends_sqlite"]["store appends, 8 writer(s)"] > 0
    assert results["audit_sqlite"]["audit verify"] > 0
    assert results["history_sqlite"]["read an item of 20 events"] > 0
    assert len(results["roundtrips_sqlite"]) == len(WALK)
    assert list(results["memory_sqlite"])[1] == "nm-workflow after 100 events stored and projected"
    (summary,) = results["http"]["summary"]
    table = done.stdout.split("HTTP command mix", 1)[1].splitlines()
    # Measured as `serve` runs it untold, and named so: on SQLite a worker process (ADR 0076).
    assert table[3].startswith(f"| sqlite | 1 | worker | 1 | {summary['trivial_per_second']:.0f} |")


def test_round_trips_are_counted_per_command_with_statements(settings: Settings, tmp_path: Path) -> None:
    trips = roundtrips.run(settings, tmp_path)
    assert list(trips) == [name for name, *_ in WALK]
    for name, labels in trips.items():
        # The labels in the message: a run under load once found no save in "request review"'s.
        assert any("INSERT" in label.upper() for label in labels), f"{name} writes its events: {trips}"
        assert any("SELECT" in label.upper() for label in labels), f"{name} reads: {trips}"
    assert "approve (editor)" in roundtrips.report(trips)


def test_the_append_benchmark_compares_with_raw_inserts_of_the_same_bytes(settings: Settings) -> None:
    results = appends.run(settings, n=3)
    assert list(results) == [
        "baseline: raw inserts, 1 writer(s)",
        "raw inserts, a cursor per insert, 1 writer(s)",
        "store appends without the chain, 1 writer(s)",
        "store appends, 1 writer(s)",
        "raw inserts, 8 writer(s)",
        "raw inserts, a cursor per insert, 8 writer(s)",
        "store appends without the chain, 8 writer(s)",
        "store appends, 8 writer(s)",
        "store appends, 8 writer(s), group commit off",
    ]
    assert all(rate > 0 for rate in results.values())


def test_the_history_benchmark_reads_a_long_item_whole_at_a_version_and_as_of(settings: Settings) -> None:
    results = history.run(settings, events=30)
    assert next(iter(results)).startswith("baseline")
    assert len(results) == 6
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


def test_the_memory_benchmark_reads_the_peak_rss_after_the_projections_caught_up(settings: Settings) -> None:
    results = memory.run(settings, events=100)
    trivial, service = results.values()
    assert list(results)[1] == "nm-workflow after 100 events stored and projected"
    assert 10 < trivial < service, "the service holds at least what the trivial server does"


def test_the_audit_benchmark_verifies_the_log_it_read(settings: Settings) -> None:
    results = audit.run(settings, events=30)
    assert list(results) == ["baseline: raw read of the log", "audit verify"]
    assert all(rate > 0 for rate in results.values())


def test_the_proof_benchmark_times_proofs_against_rehashing_and_gives_their_sizes() -> None:
    results = proofs.run(leaves=1000, proofs=5)
    seconds = results["seconds"]
    assert next(iter(seconds)).startswith("baseline: the root of 1000 leaves")
    assert len(seconds) == 4
    assert all(s > 0 for s in seconds.values())
    assert results["inclusion_hashes_max"] == 10  # ceil(log2(1000))
    assert results["inclusion_bytes_max"] == 320


def test_the_benchmark_measures_this_tree_s_code_whatever_the_environment_installed() -> None:
    # The suite's environment has the package installed non-editable: without `src/` put first,
    # the benchmark's process (and its servers) would import that copy, not this tree.
    shown = subprocess.run(
        [sys.executable, "-c", "import bench, nm_workflow; print(nm_workflow.__file__)"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(shown.stdout.strip()).is_relative_to(ROOT / "src")
    env = load.server_environment(Settings(data_dir=ROOT / "var"))
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT / "src")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_batch_benchmark_applies_the_lives_in_batches_of_the_size_asked(settings: Settings) -> None:
    switched: list[str] = []
    by_one: dict[str, float] = defaultdict(float)
    one = settings.model_copy(update={"projection_batch_size": 1, "embedded_projections": False})
    assert batches.measure(one, 2, switched.append, by_one) == 20  # two lives of ten events
    assert switched == ["on", "off"]
    assert {"quarterly_evaluation", "audit_trail", "trackings", "read the log"} <= set(by_one)
    fifteen = settings.model_copy(update={"projection_batch_size": 15, "embedded_projections": False})
    assert batches.measure(fifteen, 2, switched.append, None) == 2


def test_the_load_begins_once_every_worker_has_started_not_the_first_alone(tmp_path: Path) -> None:
    """A second worker still importing and building its app took the first load's cores, and its
    start-up counted as the commands' CPU: only in the rows of several workers."""
    settings = Settings(database_url=None, data_dir=tmp_path / "data")
    with load.serving("nm-workflow", 2, settings, tmp_path):
        assert (tmp_path / "server.log").read_text().count("Application startup complete.") == 2
