"""Machine instructions per command of the HTTP command path, counted by valgrind (callgrind).

On a shared, loaded machine a CPU time moves by tens of per cent from run to run; an
instruction count does not (two runs agree within 0.2%). This drives the ASGI app in
process (no sockets, no uvicorn: the same for every server) through the load's walk
(bench/client.py: plan, draft, review request, three approvals), projections off, on a
temporary SQLite database, and counts only the measured commands: valgrind starts with
counting off, and the process turns it on after a warm-up (`callgrind_control`).

With `--reads` it counts reads instead: after the same walks have written their items, each
item is read as a client follows it (`READS`: the item, its history, the review queue, the list
of items), the warm-up's items first, then the measured ones.

    python -m bench.instructions [--commands 60] [--server plain] [--reads]

Needs valgrind. Counts are of this machine's CPU and Python build: compare them only with
counts taken alike (before/after a change, nm-workflow/plain).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import load
from bench.baselines import plain_app
from bench.client import WALK, Window
from bench.client import _walk as walk
from bench.report import arguments
from nm_workflow.application.settings import Settings
from nm_workflow.interface.http.app import create_app

Answer = tuple[int, dict[str, str], bytes]  # status, headers (lower-case names), body


class InProcess:
    """A client connection to the ASGI `app` in process, as bench.client's walk uses one."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.planned: list[str] = []  # the ids of the items planned through this connection

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        sent = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        answer = await self._request("POST", path, body, sent, headers)
        if path == "/items" and answer[0] == 201:
            self.planned.append(json.loads(answer[2])["id"])
        return answer

    async def get(self, path: str, headers: dict[str, str]) -> Answer:
        return await self._request("GET", path, b"", [], headers)

    async def _request(
        self, method: str, target: str, body: bytes, sent: list[tuple[bytes, bytes]], headers: dict[str, str]
    ) -> Answer:
        path, _, query = target.partition("?")
        sent = [(b"host", b"bench"), *sent]
        sent += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
            "root_path": "", "headers": sent, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }  # fmt: skip
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        answer: dict[str, Any] = {"body": b""}

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # the client never leaves
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            else:
                answer["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        return answer["status"], answer["headers"], answer["body"]


async def _walks(connection: InProcess, keys: dict[str, str], walks: int) -> None:
    window = Window(0.0, float("inf"))
    for _ in range(walks):
        await walk(connection, keys, window)  # type: ignore[arg-type]  # the same post() as Connection's
    if window.errors:
        raise RuntimeError(window.errors[0])


# What a client reads of an item it follows: (path, with {item} for the item's id, client role).
READS = [
    ("/items/{item}", "marketing"),
    ("/items/{item}/history", "marketing"),
    ("/queues/review", "editor"),
    ("/items?limit=10", "marketing"),
]


async def _reads(connection: InProcess, keys: dict[str, str], items: list[str]) -> None:
    for item in items:
        for path, role in READS:
            caller = {"Authorization": f"Bearer {keys[role]}"}
            status, _, body = await connection.get(path.format(item=item), caller)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")


async def _measured(server: str, walks: int, reads: bool, count: Callable[[str], None]) -> None:
    settings = Settings(embedded_projections=False)
    if server == "plain":
        app, keys = plain_app(), {role: "unused" for role in load.ACTORS}
    else:
        keys, app = load.prepare(server, settings), create_app(settings)
    async with app.router.lifespan_context(app):
        connection = InProcess(app)
        await _walks(connection, keys, 10)  # warm: keys known, statements prepared, caches filled
        if reads:
            await _walks(connection, keys, walks)  # the items the measured reads read
            warm, measured = connection.planned[:10], connection.planned[10:]
            await _reads(connection, keys, warm)
            count("on")
            await _reads(connection, keys, measured)
            count("off")
            return
        count("on")
        await _walks(connection, keys, walks)
        count("off")


def _callgrind(switch: str) -> None:
    subprocess.run(["callgrind_control", "-i", switch, str(os.getpid())], check=True, capture_output=True)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--commands", type=int, default=60, help="measured commands (whole walks of 6)")
    parser.add_argument("--server", choices=["nm-workflow", "plain"], default="nm-workflow")
    parser.add_argument("--reads", action="store_true", help="count the reads of each walk's item instead")
    parser.add_argument("--counted", action="store_true", help=argparse.SUPPRESS)  # the process valgrind runs
    args = parser.parse_args()
    if args.reads and args.server == "plain":
        parser.error("the plain way serves no reads")
    walks = max(1, args.commands // len(WALK))
    if args.counted:
        asyncio.run(_measured(args.server, walks, args.reads, _callgrind))
        return
    with tempfile.TemporaryDirectory(prefix="nm-instructions-") as folder:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        command += [
            f"--callgrind-out-file={folder}/callgrind.out",
            sys.executable,
            "-m",
            "bench.instructions",
        ]
        command += ["--counted", "--server", args.server, "--commands", str(args.commands)]
        command += ["--reads"] if args.reads else []
        env = {**os.environ, "NM_DATA_DIR": str(Path(folder) / "data")}
        env.pop("NM_DATABASE_URL", None)
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected is None:
        raise RuntimeError(done.stderr[-2000:])
    counted, what = (walks * len(READS), "read") if args.reads else (walks * len(WALK), "command")
    per = int(collected[1]) / counted / 1e6
    print(f"{args.server}: {per:.3f} million instructions per {what} ({counted} {what}s)")


if __name__ == "__main__":
    main()
