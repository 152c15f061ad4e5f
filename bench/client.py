"""The load process: closed-loop keep-alive clients walking items through review.

Each client holds one HTTP/1.1 connection and walks item after item through
plan -> draft -> review request -> editor, department head and legal approvals:
six commands, each with an Idempotency-Key and (after the first) If-Match. Raw
asyncio streams, not an HTTP library, so that the client spends as little of the
shared CPU as it can.

    python -m bench.client '{"port": 8000, "clients": 16, "warmup": 1, "seconds": 5, "keys": {...}}'

prints one JSON object: commands completed in the measured window, seconds, p50/p99 (ms), errors,
the commands completed over the whole run (warm-up included), and over that run the load
process's CPU per completed command (`client_cpu_ms`) and how many of the machine's cores were
busy on average (`machine_busy_cores`, every process's work: the server's, the database's, this
one's and anything else running).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from bench import cpu
from bench.bodies import DRAFT, PLAN

STAGES = ("editor", "department_head", "legal")
# One item's walk: (command, path after /items/{id}, client role, body, expected status).
WALK: list[tuple[str, str, str, dict[str, Any], int]] = [
    ("plan", "", "marketing", PLAN, 201),
    ("draft", "/drafts", "marketing", DRAFT, 200),
    ("request review", "/review-requests", "marketing", {}, 200),
    *((f"approve ({stage})", "/approvals", stage, {"stage": stage, "revision": 1}, 200) for stage in STAGES),
]


@dataclass
class Window:
    """The measured window (time.monotonic()), and the commands that completed in it."""

    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    completed: int = 0  # over the whole run, for the server's CPU per command

    def record(self, started: float, finished: float, problem: str | None) -> None:
        self.completed += problem is None
        # Completions in the window: dropping those that started before it would undercount
        # slow servers (a closed loop has `clients` commands in flight at any moment).
        if self.start <= finished <= self.end:
            if problem is None:
                self.latencies.append(finished - started)
            else:
                self.errors.append(problem)


class Connection:
    """One kept-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        status_line, *lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        answered = dict(line.split(": ", 1) for line in lines if ": " in line)
        answered = {name.lower(): value for name, value in answered.items()}
        payload = await self.reader.readexactly(int(answered["content-length"]))
        return int(status_line.split(" ", 2)[1]), answered, payload


async def _walk(connection: Connection, keys: dict[str, str], window: Window) -> None:
    """Walk one item through review; stop at the first unexpected answer (recorded as an error)."""
    item, etag = "", ""
    for _, suffix, actor, body, expected in WALK:
        headers = {"Authorization": f"Bearer {keys[actor]}", "Idempotency-Key": uuid4().hex}
        if etag:
            headers["If-Match"] = etag
        started = time.monotonic()
        status, answered, payload = await connection.post(
            f"/items{item}{suffix}", json.dumps(body).encode(), headers
        )
        problem = None if status == expected else f"{status} {payload[:200].decode(errors='replace')}"
        window.record(started, time.monotonic(), problem)
        if problem is not None:
            return
        item = item or "/" + json.loads(payload)["id"]
        etag = answered["etag"]


async def _client(port: int, keys: dict[str, str], window: Window) -> None:
    while time.monotonic() < window.end:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < window.end:
                await _walk(Connection(reader, writer), keys, window)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            # The server closed the connection (e.g. after an error): an error, then a new connection.
            window.errors.append(f"connection lost: {error!r}")
        finally:
            writer.close()


async def run(port: int, clients: int, warmup: float, seconds: float, keys: dict[str, str]) -> dict[str, Any]:
    """Drive `clients` connections for warmup + seconds; figures of the measured window only."""
    start = time.monotonic() + warmup
    window = Window(start, start + seconds)
    spent, machine = time.process_time(), cpu.machine_ticks()
    await asyncio.gather(*(_client(port, keys, window) for _ in range(clients)))
    spent, machine_busy = time.process_time() - spent, cpu.busy_cores(machine, cpu.machine_ticks())
    latencies = sorted(window.latencies) or [float("nan")]
    return {
        "commands": len(window.latencies),
        "seconds": seconds,
        "per_second": len(window.latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "errors": len(window.errors),
        "first_errors": window.errors[:3],
        "completed": window.completed,
        "client_cpu_ms": 1000 * spent / window.completed if window.completed else None,
        "machine_busy_cores": machine_busy,
    }


if __name__ == "__main__":
    options = json.loads(sys.argv[1])
    print(json.dumps(asyncio.run(run(**options))))
