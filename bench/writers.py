"""Store appends from several processes on one SQLite file, with and without the write lock file.

Each process runs `--threads` writers, each appending one event at a time to its own
aggregate through `EventStore.record` (group commit, the chain), for `--seconds`. Cases: 1 and
2 processes, with the service's store (writers take turns on the lock file, ADR 0041) and
without it (the library's SQLite datastore: writers of different processes meet in SQLite's
busy handler, which sleeps). Reported per case: events/s of all processes together; events
per group-commit transaction; per transaction, its mean wall time and the writing thread's CPU
time (the difference is waiting: for the lock, the disk, the GIL); the processes' CPU time per
event (every thread); the share of transactions of the busier process.
The baseline is one process with the lock file. Cases alternate, `--rounds` times each.

    python -m bench.writers [--seconds 3] [--threads 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eventsourcing.utils import Environment

from bench.commands import saving_one_event
from bench.report import arguments
from nm_workflow.application.group_commit import Ticket
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore, Unit

CASES = ((1, True), (1, False), (2, True), (2, False))
# The report's columns (each round's figure, comma-separated) and their formats.
COLUMNS = (
    ("events/s", "{:.0f}"), ("vs baseline", "{:.2f}"), ("events/tx", "{:.1f}"), ("wall ms/tx", "{:.2f}"),
    ("CPU ms/tx", "{:.2f}"), ("CPU µs/event", "{:.0f}"), ("busier share", "{:.2f}"),
)  # fmt: skip


class UnqueuedStore(EventStore):
    """The event store on the library's own SQLite datastore: no write lock file."""

    def construct_env(self, name: str, env: Any = None) -> Environment:
        environment = super().construct_env(name, env)
        environment["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        return environment


def child(data_dir: str, queued: bool, seconds: float, threads: int) -> None:
    """One writing process: prints "ready", waits for a line, writes, prints its figures (JSON)."""
    settings = Settings(data_dir=Path(data_dir))
    store = EventStore(settings) if queued else UnqueuedStore(settings)
    figures = {"events": 0, "transactions": 0, "wall": 0.0, "cpu": 0.0, "process cpu": 0.0}
    commit = store._save_isolating

    def timed(batch: Sequence[Ticket[Unit, int | None]]) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            commit(batch)
        finally:
            figures["transactions"] += 1
            figures["wall"] += time.perf_counter() - wall
            figures["cpu"] += time.thread_time() - cpu

    store._save_isolating = timed  # type: ignore[method-assign]
    print("ready", flush=True)
    sys.stdin.readline()
    end, process_cpu = time.monotonic() + seconds, time.process_time()

    def write() -> None:
        save = saving_one_event(store.record)
        while time.monotonic() < end:
            save()
            figures["events"] += 1

    writers = [threading.Thread(target=write) for _ in range(threads)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    figures["process cpu"] = time.process_time() - process_cpu
    print(json.dumps(figures), flush=True)
    store.close()


def case(processes: int, queued: bool, seconds: float, threads: int) -> dict[str, float]:
    """Run `processes` writing processes at once on a fresh file; their figures together."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "bench.writers", "--child", folder, "--seconds", str(seconds),
                   "--threads", str(threads)] + ([] if queued else ["--unqueued"])  # fmt: skip
        started = [
            subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(processes)
        ]
        for process in started:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready", "a writing process failed to start"
        for process in started:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        each = [json.loads(process.communicate(timeout=seconds + 120)[0]) for process in started]
    transactions = sum(figures["transactions"] for figures in each)
    return {
        "events/s": sum(figures["events"] for figures in each) / seconds,
        "events/tx": sum(figures["events"] for figures in each) / transactions,
        "wall ms/tx": 1000 * sum(figures["wall"] for figures in each) / transactions,
        "CPU ms/tx": 1000 * sum(figures["cpu"] for figures in each) / transactions,
        "busier share": max(figures["transactions"] for figures in each) / transactions,
        "CPU µs/event": 1e6 * sum(f["process cpu"] for f in each) / sum(f["events"] for f in each),
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds each case writes")
    parser.add_argument("--threads", type=int, default=8, help="writing threads per process")
    parser.add_argument("--rounds", type=int, default=2, help="times each case runs, alternating")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--unqueued", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, not args.unqueued, args.seconds, args.threads)
        return
    rows: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for processes, queued in CASES:
            name = f"{processes} process(es), {'lock file' if queued else 'busy handler'}"
            rows.setdefault(name, []).append(case(processes, queued, args.seconds, args.threads))
    baseline = rows[next(iter(rows))]
    for runs in rows.values():
        for run, base in zip(runs, baseline, strict=True):
            run["vs baseline"] = run["events/s"] / base["events/s"]
    print(f"| case | {' | '.join(key for key, _ in COLUMNS)} |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, runs in rows.items():
        print(f"| {name} | {' | '.join(_cell(runs, key, form) for key, form in COLUMNS)} |")


def _cell(runs: list[dict[str, float]], key: str, form: str) -> str:
    """One figure of every round, comma-separated."""
    return ", ".join(form.format(run[key]) for run in runs)


if __name__ == "__main__":
    main()
