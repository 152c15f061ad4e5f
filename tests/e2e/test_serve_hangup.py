"""`nm-workflow serve` and SIGHUP from its terminal: a closed terminal stops it gracefully, under
`nohup` it runs on (interface/serving.py, ADR 0076). serve runs on a pseudo-terminal of the test,
as a session leader, and the test sends the shell's hangup to its process group itself."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import socket
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devsupport.server import free_port
from nm_workflow.application.settings import Settings
from tests.e2e.live import service_environment
from tests.support.waiting import wait_until

CLI = str(Path(sys.executable).with_name("nm-workflow"))
PROC = Path("/proc")


@contextmanager
def _on_a_terminal(
    settings: Settings, options: list[str], log: Path, *, nohup: bool
) -> Iterator[tuple[int, int]]:
    """`serve` with a pseudo-terminal as its controlling terminal, its log in `log`: (pid, port),
    once it answered and then its terminal hung up. `nohup`: started with SIGHUP ignored."""
    port = free_port()
    command = [CLI, "serve", "--port", str(port), *options]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: serve, a session leader whose terminal is the pseudo-terminal
        # Ignored is what nohup does before it runs the command; else the default, whatever the
        # test run was started under (nohup too, which the child would inherit).
        signal.signal(signal.SIGHUP, signal.SIG_IGN if nohup else signal.SIG_DFL)
        os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT), 2)
        os.execve(CLI, command, service_environment(settings))
    try:
        wait_until(lambda: _drained(terminal) and _answering(port), 60)  # its API worker(s) too
        os.close(terminal)  # the terminal goes away: the kernel's SIGHUP reaches serve alone...
        os.killpg(pid, signal.SIGHUP)  # ...and a shell sends it to the job's whole process group
        yield pid, port
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _api_workers(serve: int) -> list[int]:
    """The API worker processes uvicorn's supervisor started for `serve`."""
    found = []
    for entry in PROC.iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            arguments = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == serve and b"spawn_main" in arguments:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("options", [[], ["--projections", "embedded"]], ids=["supervised", "one-process"])
def test_serve_stops_gracefully_when_its_terminal_hangs_up(
    settings: Settings, options: list[str], tmp_path: Path
) -> None:
    """Closing the terminal sends SIGHUP, which a supervisor took for "replace every worker": serve
    then ran on without a terminal, holding the port; and the shell's SIGHUP ended its API workers
    at once. Both set-ups stop, each API process finishing as on SIGTERM."""
    log = tmp_path / "server.log"
    with _on_a_terminal(settings, options, log, nohup=False) as (pid, port):
        wait_until(lambda: os.waitpid(pid, os.WNOHANG) != (0, 0), 30)
        wait_until(lambda: not _listening(port))
    assert "Finished server process" in log.read_text(), log.read_text()[-3000:]
    assert "died" not in log.read_text()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_under_nohup_serve_and_its_workers_outlive_its_terminal(settings: Settings, tmp_path: Path) -> None:
    """`nohup` starts serve with SIGHUP ignored: neither the terminal's hangup nor the shell's may
    stop it or its API workers (the supervisor would start others, losing requests in flight)."""
    with _on_a_terminal(settings, [], tmp_path / "server.log", nohup=True) as (pid, port):
        wait_until(lambda: _api_workers(pid) != [])
        workers = _api_workers(pid)
        time.sleep(3)  # a stop, or a worker's death, would have come at once
        assert os.waitpid(pid, os.WNOHANG) == (0, 0), "serve stopped at its terminal's hangup"
        assert _api_workers(pid) == workers
        assert _listening(port)
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: os.waitpid(pid, os.WNOHANG) != (0, 0), 60)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_under_nohup_a_one_process_serve_outlives_its_terminal(settings: Settings, tmp_path: Path) -> None:
    with _on_a_terminal(settings, ["--projections", "embedded"], tmp_path / "log", nohup=True) as (pid, port):
        time.sleep(3)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0), "serve stopped at its terminal's hangup"
        assert _listening(port)
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: os.waitpid(pid, os.WNOHANG) != (0, 0), 60)


def _drained(terminal: int) -> bool:
    """Read what serve wrote (a full terminal would stall it); True to go on."""
    with contextlib.suppress(OSError):
        while select.select([terminal], [], [], 0)[0] and os.read(terminal, 65536):
            pass
    return True


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
    except OSError:
        return False
    return True


def _answering(port: int) -> bool:
    """Whether an API process answers (a supervisor's socket accepts before its workers start)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False
