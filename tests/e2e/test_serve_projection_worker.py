"""`nm-workflow serve --projections worker`: a real server process and its projection worker process.

The worker is found by its command line (`--parent-pid <serve's pid>`), killed, replaced,
and must never outlive the server, whether it is stopped or killed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from devsupport.server import free_port, running_server
from nm_workflow.application.settings import Settings
from projections import NAMES
from tests.e2e.api import PLAN
from tests.e2e.live import marketing_key, service_environment
from tests.support.waiting import wait_until

CLI = str(Path(sys.executable).with_name("nm-workflow"))
PROC = Path("/proc")


def _workers_of(serve: int) -> list[int]:
    """Live processes started as the projection worker of the `serve` process `serve`."""
    found = []
    for entry in PROC.iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile, or not a process
        if b"--parent-pid" in arguments and arguments[arguments.index(b"--parent-pid") + 1] == b"%d" % serve:
            found.append(int(entry.name))
    return found


def _in_group(group: int) -> list[int]:
    """Live processes of the process group `group` (serve and its API workers), zombies excluded."""
    found = []
    for entry in PROC.iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _plan_then_read(client: httpx2.Client) -> httpx2.Response:
    """A command, then a read that waits for the position it wrote."""
    planned = client.post("/items", json=PLAN)
    assert planned.status_code == 201, planned.text
    wait = {"Wait-For-Position": planned.headers["Log-Position"], "Wait-Timeout": "5"}
    read = client.get("/items", params={"limit": 1}, headers=wait)
    assert read.status_code == 200, read.text
    return read


def _scrape(client: httpx2.Client) -> dict[tuple[str, str], float]:
    text = client.get("/metrics").text
    return {
        (sample.name, sample.labels["projection"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "projection" in sample.labels
    }


def _samples(client: httpx2.Client, name: str) -> list[Sample]:
    families = text_string_to_metric_families(client.get("/metrics").text)
    return [sample for family in families for sample in family.samples if sample.name == name]


def _serve(settings: Settings, **variables: str) -> tuple[list[str], int, dict[str, str]]:
    port = free_port()
    command = [CLI, "serve", "--port", str(port), "--projections", "worker"]
    return command, port, service_environment(settings, **variables)


@contextmanager
def _served_with_a_worker(
    settings: Settings, log: Path, **variables: str
) -> Iterator[tuple[subprocess.Popen[bytes], httpx2.Client]]:
    """`serve --projections worker` once its worker runs, and a client with a marketing key;
    `variables` are further `NM_<NAME>` settings of the server."""
    auth = {"Authorization": f"Bearer {marketing_key(settings)}"}
    command, port, env = _serve(settings, **variables)
    with (
        running_server(command, port, log, env) as server,
        httpx2.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=30) as client,
    ):
        wait_until(lambda: len(_workers_of(server.pid)) == 1)
        yield server, client


def test_a_worker_beside_the_api_projects_its_commands_and_reports_at_its_metrics(
    settings: Settings, tmp_path: Path
) -> None:
    with _served_with_a_worker(settings, tmp_path / "server.log") as (_, client):
        read = _plan_then_read(client)
        assert read.headers["Projection-Wait"] == "reached"
        assert "Projection-Stale" not in read.headers
        head = int(read.request.headers["Wait-For-Position"])
        assert client.get("/readyz").status_code == 200

        # The worker's own counter, summed into the API's /metrics; every projection's lag.
        applied = ("nm_projection_events_applied_total", "audit_trail")
        wait_until(lambda: _scrape(client).get(applied) == head)
        scraped = _scrape(client)
        assert {name for (metric, name) in scraped if metric == "nm_projection_lag_events"} == set(NAMES)
        if not settings.uses_postgres:  # its batches worked out before the write turn (ADR 0086)
            planned = [
                s for s in _samples(client, "nm_projection_plans_total") if s.labels["outcome"] == "planned"
            ]
            assert {s.labels["projection"] for s in planned if s.value > 0} >= {"audit_trail", "item_status"}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the write turn is SQLite's
def test_the_api_reports_how_long_each_process_held_the_write_turn(
    settings: Settings, tmp_path: Path
) -> None:
    def held(client: httpx2.Client) -> dict[str, float]:
        return {
            sample.labels["writer"]: sample.value
            for family in text_string_to_metric_families(client.get("/metrics").text)
            for sample in family.samples
            if sample.name == "nm_sqlite_write_turn_held_seconds_count"
        }

    with _served_with_a_worker(settings, tmp_path / "server.log") as (_, client):
        _plan_then_read(client)
        before = held(client)  # the API process's own writes at its start are in it already
        _plan_then_read(client)  # reached: the worker wrote the command's rows
        after = held(client)
    assert after["store"] > before["store"], "the API process's save"
    assert after["projections"] > before["projections"], "the worker's batch, summed into the API's /metrics"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_killed_worker_is_replaced_and_a_stopped_server_leaves_no_process(
    settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with _served_with_a_worker(settings, log) as (server, client):
        [first] = _workers_of(server.pid)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: (found := _workers_of(server.pid)) != [] and found != [first])
        assert _plan_then_read(client).headers["Projection-Wait"] == "reached"  # the new one projects

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, log.read_text()[-3000:]
        assert _workers_of(server.pid) == []
        # What serve started is gone with it; a helper of its own (multiprocessing's resource
        # tracker, which ends when it sees serve's end) may take a moment more, not longer.
        wait_until(lambda: _in_group(server.pid) == [])
    assert "Projection worker" in log.read_text()  # the death was logged


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_hung_worker_is_killed_and_replaced(settings: Settings, tmp_path: Path) -> None:
    """ADR 0078: a worker that makes no pass (here stopped, as a hang in a C call or a deadlock
    would leave it) left its projections stale for good; serve now kills it and starts another."""
    log = tmp_path / "server.log"
    # The least stall the settings allow with a lock timeout of 1 s (twice it, the poll and the gather).
    stall = {"projection_worker_stall_seconds": "3", "db_lock_timeout": "1"}
    with _served_with_a_worker(settings, log, **stall) as (server, client):
        [first] = _workers_of(server.pid)
        os.kill(first, signal.SIGSTOP)
        wait_until(lambda: (found := _workers_of(server.pid)) != [] and found != [first], 20)
        assert not (PROC / str(first)).exists()  # killed, and reaped by serve
        assert _plan_then_read(client).headers["Projection-Wait"] == "reached"  # the new one projects
        assert client.get("/readyz").status_code == 200
    hung = rf"Projection worker \[{first}\] hung \(no pass in \d+ s\): killed; starting another in "
    assert re.search(hung, log.read_text())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_workers_of_a_killed_server_stop_by_themselves(settings: Settings, tmp_path: Path) -> None:
    with _served_with_a_worker(settings, tmp_path / "server.log") as (server, _):
        server.send_signal(signal.SIGKILL)  # no chance to stop its workers
        server.wait()
        wait_until(lambda: _workers_of(server.pid) == [])
        wait_until(lambda: _in_group(server.pid) == [])  # nor does its API worker serve on


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("options", "variables", "message"),
    [
        (["--projections", "elsewhere"], {}, "Invalid value for '--projections'"),
        (["--projections", "embedded", "--no-projections"], {}, "--projections embedded contradicts"),
        (["--projections", "worker", "--no-projections"], {}, "--projections worker contradicts"),
        ([], {"NM_PROJECTIONS": "sideways"}, "NM_PROJECTIONS: Input should be"),
        ([], {"NM_PROJECTIONS": "worker", "NM_EMBEDDED_PROJECTIONS": "true"}, "NM_PROJECTIONS: 'worker'"),
        # A healthy worker would be killed as hung (ADR 0078): 2 x 5 + 0.2 + 0.05 s between two passes.
        ([], {"NM_PROJECTION_WORKER_STALL_SECONDS": "10"}, "(10) must be more than twice NM_DB_LOCK_TIMEOUT"),
    ],
)
def test_a_bad_or_contradicting_projections_switch_is_one_line_and_exit_2(
    settings: Settings, options: list[str], variables: dict[str, str], message: str
) -> None:
    env = service_environment(settings) | variables
    result = subprocess.run([CLI, "serve", *options], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr


def test_serve_untold_runs_a_worker_on_sqlite_and_embeds_the_projections_on_postgresql(
    settings: Settings, tmp_path: Path
) -> None:
    """ADR 0076: a worker gave SQLite 13-24% more commands/s at 16 clients; on PostgreSQL it cost
    the one-client p50 about a fifth, so there they stay in the API process."""
    port, log = free_port(), tmp_path / "server.log"
    env = service_environment(settings)
    auth = {"Authorization": f"Bearer {marketing_key(settings)}"}
    with (
        running_server([CLI, "serve", "--port", str(port)], port, log, env) as server,
        httpx2.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=30) as client,
    ):
        if settings.uses_postgres:
            assert _plan_then_read(client).headers["Projection-Wait"] == "reached"
            assert _workers_of(server.pid) == []
            assert "worker process" not in log.read_text()
        else:
            wait_until(lambda: len(_workers_of(server.pid)) == 1)
            assert _plan_then_read(client).headers["Projection-Wait"] == "reached"
            assert "(SQLite at " in log.read_text()
            assert "; projections in a worker process)" in log.read_text()
            # The worker's line, whole in a log file (80 columns wrapped it); serve says how to stop.
            assert f"Running projections: {', '.join(NAMES)}.\n" in log.read_text()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sighup_replaces_the_projection_worker_too(settings: Settings, tmp_path: Path) -> None:
    """SIGHUP is how a new release is brought in without a stop: the projections run it as well."""
    log = tmp_path / "server.log"
    with _served_with_a_worker(settings, log) as (server, client):
        [first] = _workers_of(server.pid)
        server.send_signal(signal.SIGHUP)
        wait_until(lambda: (found := _workers_of(server.pid)) != [] and found != [first], 60)
        assert _plan_then_read(client).headers["Projection-Wait"] == "reached"  # the new one projects
        assert len(_workers_of(server.pid)) == 1
    assert f"Projection worker [{first}] stopped to be replaced (SIGHUP)" in log.read_text()
    assert "exited (status" not in log.read_text()  # a replacement, not a death
