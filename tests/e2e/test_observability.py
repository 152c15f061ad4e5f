"""What operators scrape and probe: /metrics, /healthz and /readyz, in-process and from a real server."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest
from prometheus_client import multiprocess

from devsupport.server import free_port, running_server, terminate
from nm_workflow.application.settings import Settings
from nm_workflow.interface.http import observability
from tests.e2e.api import Api
from tests.e2e.live import live_server, proxied, served, service_environment
from tests.support.sockets import holder_of, server_side_inode
from tests.support.waiting import wait_until

CLI = str(Path(sys.executable).with_name("nm-workflow"))


def samples(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of metric `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[1]))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(match[2])
    return total


def test_requests_are_timed_by_route_template_method_and_status(api: Api, backend: str) -> None:
    item = api.planned()
    before = api.call("GET", "/metrics", None).text
    assert api.get(f"/items/{item}", api.marketing).status_code == 200
    assert api.call("HEAD", f"/items/{item}", api.marketing).status_code == 200
    assert api.get("/items/not-an-id", api.marketing).status_code == 422
    assert api.call("GET", "/wp-login.php", None).status_code == 404
    for invented in ("FROB", "XQZ1"):  # any token is a method to HTTP: neither may add a series
        assert api.call(invented, f"/items/{item}", api.marketing).status_code == 405

    response = api.call("GET", "/metrics", None)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    after, count = response.text, "nm_http_request_duration_seconds_count"

    def grew(**labels: str) -> float:
        return samples(after, count, **labels) - samples(before, count, **labels)

    assert grew(route="/items/{item_id}", method="GET", status="200") == 1
    assert grew(route="/items/{item_id}", method="HEAD", status="200") == 1, "HEAD is served as GET"
    assert grew(route="/items/{item_id}", method="GET", status="422") == 1
    assert grew(route="unmatched", method="GET", status="404") == 1, "unknown paths share one series"
    assert 'method="FROB"' not in after
    assert grew(method="other", status="405") == 2, "invented methods share one label"
    assert item not in after, "no id ever becomes a label"
    pool_max = samples(after, "nm_db_pool_connections", state="pool_max")
    assert (pool_max > 0) == (backend == "postgres"), "SQLite has no pool"


def test_liveness_never_asks_the_database_and_readiness_reports_lag(app_factory: Callable[..., Api]) -> None:
    writer = app_factory(embedded_projections=False, ready_max_lag_events=0)  # nobody runs the projections
    writer.planned()

    behind = writer.call("GET", "/readyz", None)
    assert behind.status_code == 503
    assert behind.headers["content-type"] == "application/problem+json"
    assert behind.json()["type"] == "/problems/projections-behind"
    assert "item_status" in behind.json()["detail"]
    assert behind.headers["retry-after"]
    assert writer.call("GET", "/healthz", None).json() == {"status": "alive"}
    scraped = writer.call("GET", "/metrics", None).text
    assert samples(scraped, "nm_projection_lag_events", projection="item_status") > 0

    app_factory()  # a process that runs the projections catches them up
    deadline = time.monotonic() + 30
    while (ready := writer.call("GET", "/readyz", None)).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.status_code == 200, ready.text
    assert ready.json()["max_lag_events"] == 0


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # a network path exists only there
def test_while_the_database_is_unreachable_metrics_are_served_and_only_readiness_fails(
    make_settings: Callable[..., Settings],
) -> None:
    proxy, through_proxy = proxied(make_settings)
    with live_server(through_proxy) as base, httpx2.Client(base_url=base, timeout=30) as client:
        assert client.get("/readyz").status_code == 200
        proxy.cut()
        unready = client.get("/readyz")  # finds the outage (two connection attempts)
        assert unready.status_code == 503
        assert unready.json()["type"] == "/problems/store-unavailable"
        assert unready.headers["retry-after"]
        # Within its Retry-After the process answers from what it found, without asking again.
        again = client.get("/readyz")
        assert again.status_code == 503
        assert "unreachable moments ago" in again.json()["detail"]
        scraped = client.get("/metrics")
        assert scraped.status_code == 200, scraped.text
        assert 'route="/readyz",status="503"' in scraped.text
        assert client.get("/healthz").json() == {"status": "alive"}


def test_metrics_sum_every_worker_of_a_real_server(tmp_path: Path) -> None:
    port = free_port()
    command = [CLI, "serve", "--port", str(port), "--workers", "2"]
    with running_server(command, port, tmp_path / "server.log", {"NM_DATA_DIR": str(tmp_path / "data")}):
        served_by: list[int] = []
        # New connections until both workers served some: then no one worker's own figures hold the total.
        while len(set(served_by)) < 2 and len(served_by) < 400:
            served_by.append(_get(port, "/healthz")[0])
        assert len(set(served_by)) == 2, "the kernel handed every connection to one worker"
        for _ in range(4):
            pid, text = _get(port, "/metrics")
            served = samples(text, "nm_http_request_duration_seconds_count", route="/healthz", status="200")
            assert served == len(served_by), f"worker {pid} reports {served} of {len(served_by)}"


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite has no pool
def test_every_worker_reports_its_pool_and_no_worker_an_old_lag(settings: Settings) -> None:
    # Two workers of 2 + 1 connections each; the projections in a process of their own, run below.
    variables = {"db_pool_size": "4", "db_max_overflow": "2"}
    with served(settings, "--workers", "2", "--projections", "none", **variables) as url:
        port = urlsplit(url).port
        assert port is not None
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # one worker answers it all
        try:
            # The other worker's pool counts too, though it never answers a scrape.
            wait_until(lambda: _pool_max(_scrape(kept)) == 6)
            assert "pools, summed over the workers" in _scrape(kept)  # its HELP says what it sums
        finally:
            kept.close()
        # A worker killed and started again by uvicorn: its predecessor's pool is no longer counted.
        survivor, killed = _workers(port)
        os.kill(killed, signal.SIGKILL)
        while _get_past_a_kill(port, "/metrics")[0] == survivor:  # until its successor answered a scrape
            pass
        wait_until(lambda: _pool_max(_get_past_a_kill(port, "/metrics")[1]) == 6)

        # Nobody runs the projections: both workers answer a scrape while the read side lags.
        lagging: set[int] = set()
        while len(lagging) < 2:
            pid, text = _get(port, "/metrics")
            assert samples(text, "nm_projection_lag_events", projection="audit_trail") > 0
            lagging.add(pid)
        command = [str(Path(sys.executable).parent / "nm-workflow"), "projections", "run"]
        worker = subprocess.Popen(command, env=service_environment(settings, **variables))
        try:
            wait_until(lambda: json.loads(_get(port, "/readyz")[1])["max_lag_events"] == 0)
        finally:
            terminate(worker)
        answered: set[int] = set()
        while len(answered) < 2:  # caught up: whichever worker answers says so
            pid, text = _get(port, "/metrics")
            assert samples(text, "nm_projection_lag_events") == 0, f"worker {pid} reports an old lag"
            answered.add(pid)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the folder's files, not the pool
def test_the_pool_reporter_outlives_odd_files_and_a_worker_clearing_the_same_files(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of the folder not named by a pid, and a dead worker's files removed by another
    worker first (each worker clears them), leave the reporter clearing dead workers' files."""
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    (tmp_path / "gauge_livesum_worker-a.db").write_bytes(b"")  # a process identifier not a pid
    dead = tmp_path / f"gauge_livesum_{gone.pid}.db"
    dead.write_bytes(b"")
    real: Callable[[int, str], None] = multiprocess.mark_process_dead
    raced: list[int] = []

    def cleared_first(pid: int, path: str) -> None:  # as when another worker cleared them meanwhile
        if not raced:
            raced.append(pid)
            real(pid, path)
            raise FileNotFoundError(str(dead))
        real(pid, path)

    monkeypatch.setattr(multiprocess, "mark_process_dead", cleared_first)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    reporter = observability.PoolReporter(api.client.app.state.store, interval=0.001)  # type: ignore[attr-defined]
    reporter.start()
    try:
        wait_until(lambda: raced == [gone.pid])
        later = tmp_path / f"gauge_liveall_{gone.pid}.db"  # the dead worker's file of another mode
        later.write_bytes(b"")
        wait_until(lambda: not later.exists())
    finally:
        reporter.stop()


_REPORTS = """
import gc, sys
from nm_workflow.interface.http import observability

class Store:  # a pool's counts, as the store reports them
    def pool_usage(self):
        return {"pool_max": 3, "pool_size": 2, "pool_available": 1, "requests_waiting": 0}

def values():
    return sum(type(o).__name__ == "MmapedValue" for o in gc.get_objects())

observability._report_pool(Store())
first = values()
for _ in range(int(sys.argv[1])):
    observability._report_pool(Store())
print(first, values())
"""


def test_reporting_the_pool_again_makes_no_new_values_of_the_shared_metrics(tmp_path: Path) -> None:
    """Under several workers the pool is reported every second for the worker's life: each
    report sets the same series, where prometheus-client keeps every series value it ever made
    (a new one for each series cleared and set again) until the process ends."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", _REPORTS, "50"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first, after = map(int, done.stdout.split())
    assert first > 0  # the values are seen: the process shares its metrics
    assert after == first


def _workers(port: int) -> list[int]:
    """The pids of both workers, from new connections until each answered one."""
    answered: set[int] = set()
    while len(answered) < 2:
        answered.add(_get(port, "/healthz")[0])
    return sorted(answered)


def _scrape(connection: http.client.HTTPConnection) -> str:
    connection.request("GET", "/metrics")
    return connection.getresponse().read().decode()


def _pool_max(scraped: str) -> float:
    return samples(scraped, "nm_db_pool_connections", state="pool_max")


def _get(port: int, path: str) -> tuple[int, str]:
    """GET `path` on a new connection: the pid of the worker that accepted it, and the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200
        assert connection.sock is not None
        pid, _ = holder_of(server_side_inode(port, connection.sock.getsockname()[1]))
        return pid, response.read().decode()
    finally:
        connection.close()


def _get_past_a_kill(port: int, path: str) -> tuple[int, str]:
    """`_get`, asked again on a reset: a connection still queued on the killed worker's own
    socket is reset with it, unless the kernel moves it (net.ipv4.tcp_migrate_req, ADR 0069)."""
    while True:
        with suppress(ConnectionResetError, BrokenPipeError):
            return _get(port, path)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the folder's files, not the database
def test_a_workers_file_still_empty_leaves_the_scrape_whole(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process creates its metrics file, then sizes it: a worker killed in between leaves an
    empty file for good, which made every scrape answer 500 until the service restarted."""
    counted = (
        "from prometheus_client import Counter as C; C('nm_probe', 'a probe', ['of']).labels('a').inc(3)"
    )
    other_worker = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", counted], env=other_worker, check=True)
    (tmp_path / "counter_4194305.db").write_bytes(b"")  # a worker's, killed before it sized it
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    scraped = api.call("GET", "/metrics", None)
    assert scraped.status_code == 200, scraped.text
    assert samples(scraped.text, "nm_probe_total") == 3, "the other workers' figures are all there"
