"""Machine instructions per command of the HTTP command path, counted by valgrind (callgrind).

On a shared, loaded machine a CPU time moves by tens of per cent from run to run; an
instruction count does not (two runs agree within 0.2%). This drives the ASGI app in
process (no sockets, no uvicorn: the same for every server) through the load's walk
(bench/client.py: plan, draft, review request, three approvals), projections off, on a
temporary SQLite database, and counts only the measured commands: valgrind starts with
counting off, and the process turns it on after a warm-up (`callgrind_control`).

    python -m bench.instructions [--commands 60] [--server plain]

Needs valgrind. Counts are of this machine's CPU and Python build: compare them only with
counts taken alike (before/after a change, nm-workflow/plain).
"""

from __future__ import annotations

import argparse
import asyncio
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

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        sent = [(b"host", b"bench"), (b"content-type", b"application/json")]
        sent += [(b"content-length", str(len(body)).encode())]
        sent += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
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


async def _measured(server: str, walks: int, count: Callable[[str], None]) -> None:
    settings = Settings(embedded_projections=False)
    if server == "plain":
        app, keys = plain_app(), {role: "unused" for role in load.ACTORS}
    else:
        keys, app = load.prepare(server, settings), create_app(settings)
    async with app.router.lifespan_context(app):
        connection = InProcess(app)
        await _walks(connection, keys, 10)  # warm: keys known, statements prepared, caches filled
        count("on")
        await _walks(connection, keys, walks)
        count("off")


def _callgrind(switch: str) -> None:
    subprocess.run(["callgrind_control", "-i", switch, str(os.getpid())], check=True, capture_output=True)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--commands", type=int, default=60, help="measured commands (whole walks of 6)")
    parser.add_argument("--server", choices=["nm-workflow", "plain"], default="nm-workflow")
    parser.add_argument("--counted", action="store_true", help=argparse.SUPPRESS)  # the process valgrind runs
    args = parser.parse_args()
    walks = max(1, args.commands // len(WALK))
    if args.counted:
        asyncio.run(_measured(args.server, walks, _callgrind))
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
        env = {**os.environ, "NM_DATA_DIR": str(Path(folder) / "data")}
        env.pop("NM_DATABASE_URL", None)
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected is None:
        raise RuntimeError(done.stderr[-2000:])
    commands = walks * len(WALK)
    per_command = int(collected[1]) / commands / 1e6
    print(f"{args.server}: {per_command:.3f} million instructions per command ({commands} commands)")


if __name__ == "__main__":
    main()
