"""A real server process on a free port: started, awaited until it answers, stopped for sure."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

STARTUP_SECONDS = 60.0
SHUTDOWN_SECONDS = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(
    command: Sequence[str], port: int, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` (which serves HTTP on 127.0.0.1:`port`) until the block ends.

    Ready means `GET /health` answered 200. Output goes to `log`, quoted if the server
    dies at startup. On exit: SIGTERM (a graceful stop, workers included), then SIGKILL
    to the whole process group.
    """
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # its own process group: workers are stopped with it
        )
    try:
        _wait_until_ready(process, port, log)
        yield process
    finally:
        _stop(process)


def _wait_until_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited at startup ({process.returncode}):\n{log.read_text()}")
        with suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    return
            finally:
                connection.close()
        time.sleep(0.1)
    raise RuntimeError(f"The server did not answer in {STARTUP_SECONDS:.0f} s:\n{log.read_text()}")


def terminate(process: subprocess.Popen[Any], timeout: float = SHUTDOWN_SECONDS) -> None:
    """Stop `process` as an operator would (SIGTERM), killing it if it is not gone in `timeout` s."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _stop(process: subprocess.Popen[bytes]) -> None:
    terminate(process)
    # Workers left behind go with the group.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
