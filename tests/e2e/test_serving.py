"""`nm-workflow serve` as a real process: every accepted connection has TCP_NODELAY, and
with several workers connections opened at once are spread over them.

Without TCP_NODELAY Nagle's algorithm meets the client's delayed ACK and each keep-alive
request waits ~40 ms (uvicorn issue 3149, multi-worker mode). The option is read
from the server's own accepted socket, not inferred from timings; which worker serves a
connection, from the process holding its accepted socket.
"""

from __future__ import annotations

import http.client
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path

import pytest

from devsupport.server import free_port, running_server
from nm_workflow.interface.serving import (
    HEALTHCHECK_SECONDS,
    MIGRATE_REQUESTS,
    SPREAD_BY_KERNEL,
    STARTUP_FAILURE,
    UNMIGRATED,
    WorkersOwnSocket,
    authority,
    claim_address,
)
from tests.support.sockets import (
    borrowed_socket,
    holder_of,
    listening_inodes,
    processes_holding,
    server_side_inode,
)

CLI = str(Path(sys.executable).with_name("nm-workflow"))


@pytest.mark.parametrize("workers", [2, 1])
def test_accepted_connections_have_tcp_nodelay(workers: int, tmp_path: Path) -> None:
    port = free_port()
    command = [CLI, "serve", "--port", str(port), "--workers", str(workers)]
    env = {"NM_DATA_DIR": str(tmp_path / "data")}
    with running_server(command, port, tmp_path / "server.log", env) as server:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for _ in range(2):  # the same kept-alive connection serves both
                connection.request("GET", "/health")
                response = connection.getresponse()
                response.read()
                assert response.status == 200
            assert connection.sock is not None
            client_port = connection.sock.getsockname()[1]
            pid, fd = holder_of(server_side_inode(port, client_port))
            with borrowed_socket(pid, fd) as accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            connection.close()
        assert pid != server.pid or workers == 1, "with workers, a worker process serves the connection"


def _listeners(port: int, count: int, gone: int | None = None) -> set[int]:
    """The processes holding the sockets listening on `port`, once `count` processes other than
    `gone` hold them (one socket each)."""
    deadline = time.monotonic() + 60
    while True:
        with suppress(LookupError):  # a socket whose process ended between the two reads
            holders = {holder_of(inode)[0] for inode in listening_inodes(port)}
            if len(holders) == count and gone not in holders:
                return holders
        assert time.monotonic() < deadline, f"not {count} processes listening on {port}"
        time.sleep(0.1)


def _served_by(port: int, connections: list[http.client.HTTPConnection]) -> Counter[int]:
    """How many of `connections` (each answering GET /health) each server process holds."""
    holders: Counter[int] = Counter()
    for connection in connections:
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        assert connection.sock is not None
        holders[holder_of(server_side_inode(port, connection.sock.getsockname()[1]))[0]] += 1
    return holders


@pytest.mark.skipif(not SPREAD_BY_KERNEL, reason="Linux spreads connections over a SO_REUSEPORT group")
def test_each_worker_listens_on_its_own_socket_and_connections_opened_at_once_are_spread(
    tmp_path: Path,
) -> None:
    """On one shared socket the first worker to wake took every waiting connection: a client
    opening its keep-alive connections together had them all on one worker, the other idle."""
    port = free_port()
    command = [CLI, "serve", "--port", str(port), "--workers", "2"]
    with running_server(
        command, port, tmp_path / "server.log", {"NM_DATA_DIR": str(tmp_path / "data")}
    ) as server:
        workers = _listeners(port, 2)
        assert server.pid not in workers, "the supervisor holds the port but listens on nothing"
        started = (tmp_path / "server.log").read_text().splitlines()[0]
        assert started.startswith(f"nm-workflow on http://127.0.0.1:{port} ("), started  # one line, unwrapped
        assert started.endswith("API docs at /docs"), started
        unmigrated = MIGRATE_REQUESTS.exists() and MIGRATE_REQUESTS.read_text().strip() == "0"
        assert (UNMIGRATED in (tmp_path / "server.log").read_text()) == unmigrated
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(32)]
        try:
            for connection in connections:  # all connected before any is served, as a pool opens them
                connection.connect()
            served = _served_by(port, connections)
        finally:
            for connection in connections:
                connection.close()
        assert set(served) == workers
        # The kernel picks a socket by a hash of the connection's ports: fewer than 4 of 32 on
        # either worker happens about once in 400,000 runs.
        assert min(served.values()) >= 4, served

        # A worker killed is replaced by one listening on a socket of its own; the port stayed the server's.
        killed = min(workers)
        os.kill(killed, signal.SIGKILL)
        replaced = _listeners(port, 2, gone=killed)
        again = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(32)]
        try:
            assert set(_served_by(port, again)) <= replaced
        finally:
            for connection in again:
                connection.close()


@pytest.mark.parametrize("workers", [2, 1])
def test_a_second_server_on_the_port_of_a_running_one_is_refused(workers: int, tmp_path: Path) -> None:
    """With workers, their sockets share the port with sockets of the same user (SO_REUSEPORT):
    a second `serve` must still be refused, not quietly take half of the connections."""
    port = free_port()
    command = [CLI, "serve", "--port", str(port), "--workers", str(workers)]
    env = {"NM_DATA_DIR": str(tmp_path / "data")}
    with running_server(command, port, tmp_path / "server.log", env):
        _listeners(port, 2 if workers == 2 and SPREAD_BY_KERNEL else 1)
        second = subprocess.run(
            [CLI, "serve", "--port", str(port), "--workers", "2"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert second.returncode == 3, second.stderr
    assert f"Cannot listen on 127.0.0.1:{port}" in second.stderr


def _serve(
    port: int, workers: int, tmp_path: Path, host: str = "127.0.0.1"
) -> subprocess.CompletedProcess[str]:
    command = [CLI, "serve", "--host", host, "--port", str(port), "--workers", str(workers)]
    env = {**os.environ, "NM_DATA_DIR": str(tmp_path / "other")}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(not SPREAD_BY_KERNEL, reason="the claim exists where workers may share a port")
@pytest.mark.parametrize(
    ("host", "workers"), [("127.0.0.1", 2), ("127.0.0.1", 1), ("localhost", 2), ("0.0.0.0", 2), ("::1", 2)]
)
def test_a_serve_on_a_port_another_serve_claimed_is_refused_before_any_worker_listens(
    host: str, workers: int, tmp_path: Path
) -> None:
    """A serve still starting listens on nothing, so binding its port succeeded: without the
    claim a second serve started then ran, and its workers shared the first one's port; with a
    claim named after the address, so did one naming the same address otherwise (`localhost`)
    or the wildcard, whose connections to 127.0.0.1 the more specific socket would take."""
    port = free_port()
    claim = claim_address(port)  # as a serve on 127.0.0.1 holds it from its check to its end
    assert claim is not None
    try:
        refused = _serve(port, workers, tmp_path, host)
    finally:
        claim.close()
    assert refused.returncode == 3, refused.stderr
    assert f"Cannot listen on {authority(host, port)}: another nm-workflow serve" in refused.stderr
    assert authority("::1", port) == f"[::1]:{port}"  # an IPv6 address as a URL writes it
    assert f"serving on port {port}" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_serve_started_while_another_starts_on_the_port_is_refused(tmp_path: Path) -> None:
    port = free_port()
    command = [CLI, "serve", "--port", str(port), "--workers", "2"]
    log = tmp_path / "first.log"
    with log.open("wb") as sink:
        first = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "NM_DATA_DIR": str(tmp_path / "data")},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while f"http://127.0.0.1:{port}" not in log.read_text(errors="replace"):  # its check passed
            assert first.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        second = _serve(port, 2, tmp_path)  # most often before the first's workers listen
        assert second.returncode == 3, second.stderr
        # Refused by the claim, or by the check once a worker of the first listens.
        assert second.stderr.startswith(f"nm-workflow: Cannot listen on 127.0.0.1:{port}: "), second.stderr
        assert ("another nm-workflow serve" in second.stderr) != ("Address already in use" in second.stderr)
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(timeout=60)


def test_one_api_worker_beside_the_projection_worker_keeps_one_socket(tmp_path: Path) -> None:
    """Its socket stays with serve while the worker restarts, so new connections wait rather than
    being refused; spreading needs two API workers."""
    port = free_port()
    command = [CLI, "serve", "--port", str(port), "--workers", "1", "--projections", "worker"]
    env = {"NM_DATA_DIR": str(tmp_path / "data")}
    with running_server(command, port, tmp_path / "server.log", env) as server:
        (inode,) = listening_inodes(port)
        assert server.pid in processes_holding(inode)


@pytest.mark.skipif(not SPREAD_BY_KERNEL, reason="workers bind their own sockets on Linux")
def test_a_worker_that_cannot_bind_its_socket_ends_with_the_start_failure_status() -> None:
    """On status 1 uvicorn's supervisor started the worker again every half minute, for ever; on its
    start-failure status it stops, and serve with it."""
    with socket.socket() as taken:  # no SO_REUSEPORT: nobody may join it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = f"import pickle; pickle.loads({pickle.dumps(WorkersOwnSocket('127.0.0.1', port))!r})"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == STARTUP_FAILURE, done.stderr
    assert f"ERROR:    Cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not SPREAD_BY_KERNEL, reason="workers bind their own sockets on Linux")
def test_a_worker_that_exits_while_its_health_check_waits_is_replaced_at_once(tmp_path: Path) -> None:
    """A worker that does not answer (stopped here) has the supervisor waiting up to
    HEALTHCHECK_SECONDS for its answer; once it exits, it is replaced without waiting that out."""
    port = free_port()
    command = [CLI, "serve", "--port", str(port), "--workers", "2"]
    env = {"NM_DATA_DIR": str(tmp_path / "data")}
    with running_server(command, port, tmp_path / "server.log", env):
        stopped = min(_listeners(port, 2))
        os.kill(stopped, signal.SIGSTOP)
        time.sleep(2)  # the supervisor looks every half second: its ping now waits for an answer
        os.kill(stopped, signal.SIGKILL)
        killed = time.monotonic()
        _listeners(port, 2, gone=stopped)
        assert time.monotonic() - killed < HEALTHCHECK_SECONDS / 2


VANISHING = "fd00::7e57"  # a unique local address, added to the loopback device for one test


def _ip(*arguments: str) -> bool:
    """`ip` run as given; False where the machine or its user cannot change addresses."""
    try:
        return (
            subprocess.run(["ip", *arguments], capture_output=True, timeout=30, check=False).returncode == 0
        )
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not SPREAD_BY_KERNEL, reason="workers bind their own sockets on Linux")
def test_serve_stops_with_status_3_when_a_replaced_worker_cannot_bind_its_address(tmp_path: Path) -> None:
    """An address that left the machine (a moved virtual IP): a worker started again cannot bind
    it. On status 1 uvicorn's supervisor started it again every half minute, for ever."""
    if not _ip("-6", "addr", "add", f"{VANISHING}/128", "dev", "lo", "nodad"):
        pytest.skip("cannot add an address to the loopback device here")
    added = True
    port = free_port()
    log = tmp_path / "server.log"
    try:
        with log.open("wb") as sink:
            server = subprocess.Popen(
                [CLI, "serve", "--host", VANISHING, "--port", str(port), "--workers", "2"],
                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "NM_DATA_DIR": str(tmp_path / "data")},
            )  # fmt: skip
        try:
            workers = _listeners(port, 2)
            added = not _ip("-6", "addr", "del", f"{VANISHING}/128", "dev", "lo")
            os.kill(min(workers), signal.SIGKILL)
            assert server.wait(timeout=120) == STARTUP_FAILURE, log.read_text()
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=60)
        text = log.read_text()
        assert f"Cannot listen on [{VANISHING}]:{port}: Cannot assign requested address." in text
        assert "Traceback" not in text
    finally:
        if added:
            _ip("-6", "addr", "del", f"{VANISHING}/128", "dev", "lo")
