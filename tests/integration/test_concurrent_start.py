"""Processes starting at the same moment on one fresh PostgreSQL database all succeed.

Every process start runs the schema set-up (the library's CREATE TABLE / TYPE / OR REPLACE
FUNCTION, the projection tables and views); without the advisory lock of ADR 0014 some of eight
processes failed with "tuple concurrently updated". Python's start-up time spreads processes
out, so they reach the database through a gate that lets the first connections through only
once every process has knocked: their set-ups then really run at the same moment.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.e2e.live import TcpProxy

CLI = str(Path(sys.executable).parent / "nm-workflow")
PROCESSES = 8


class Gate(TcpProxy):
    """A proxy that holds every connection until `expected` have arrived (or `patience` passed)."""

    def __init__(self, target_host: str, target_port: int, expected: int, patience: float = 30.0) -> None:
        super().__init__(target_host, target_port)
        self.expected, self.patience = expected, patience
        self.arrived = 0
        self.opened = threading.Event()

    def _forward(self, client: socket.socket) -> None:
        self.arrived += 1
        if self.arrived >= self.expected:
            self.opened.set()
        threading.Thread(target=self._forward_when_open, args=(client,), daemon=True).start()

    def _forward_when_open(self, client: socket.socket) -> None:
        self.opened.wait(self.patience)
        super()._forward(client)


def _start_together(commands: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Start every command at once (none waits for another) and wait for all to finish."""
    procs = [
        subprocess.Popen([CLI, *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    results = []
    for proc, command in zip(procs, commands, strict=True):
        stdout, stderr = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess([CLI, *command], proc.returncode, stdout, stderr))
    return results


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(2))
def test_eight_processes_starting_together_on_a_fresh_database_all_succeed(
    postgres_database_url: str, tmp_path: Path, round_: int
) -> None:
    parts = conninfo_to_dict(postgres_database_url)
    gate = Gate(str(parts["host"]), int(str(parts["port"])), expected=PROCESSES)
    gate.start()
    url = urlsplit(postgres_database_url)
    credentials = url.netloc.rpartition("@")[0]
    gated_url = url._replace(netloc=f"{credentials}@127.0.0.1:{gate.port}").geturl()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NM_")}
    env |= {"NM_DATABASE_URL": gated_url, "NM_DATA_DIR": str(tmp_path),
            "NM_DB_CONNECT_TIMEOUT": "60"}  # fmt: skip
    creates = [
        ["keys", "create", "--actor", f"svc-{round_}-{n}", "--role", "service", "--department", "data"]
        for n in range(PROCESSES - 2)
    ]
    # The read side's set-up too: its tables, tracking tables, views and projection_failures.
    commands = [*creates, ["projections", "status"], ["projections", "status", "--json"]]

    try:
        results = _start_together(commands, env)
    finally:
        gate.cut()
    assert gate.opened.is_set(), "every process knocked at the gate before it opened"

    for result in results:
        assert result.returncode == 0, f"{result.args}: {result.stderr}"
    direct = env | {"NM_DATABASE_URL": postgres_database_url}
    listed = subprocess.run(
        [CLI, "keys", "list", "--json"], env=direct, capture_output=True, text=True, check=True
    )
    assert sorted(key["actor"] for key in json.loads(listed.stdout)) == sorted(c[3] for c in creates)
