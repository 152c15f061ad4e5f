"""The HTTP load benchmark: the service and its two baselines, each a real server process.

For each database (a temporary SQLite file; a throwaway PostgreSQL with durable
settings) and each number of workers, three servers are started in turn on a fresh
database, all through `nm_workflow.interface.serving`: the trivial endpoint, the
plain way (bench/baselines.py) and `nm-workflow serve`. A separate load process
(bench/client.py) drives each at each number of clients. For the service, the
projections' lag (events behind the log head) is sampled during the load, and the
time they take to reach the head after it is measured. For every server, the CPU
it spent per completed command (its process and workers), and the database
server's (PostgreSQL; SQLite runs inside the server), from the load's start to its
end (for the service, to the end of the projections' catch-up: their work is part
of the commands' cost).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import SOURCE, cpu
from bench.baselines import plain_items
from bench.turns import TurnProbe
from devsupport.postgres import create_database, drop_database
from devsupport.server import STARTUP_SECONDS, free_port, running_server
from nm_workflow.application.keys import KeyService
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from projections import ReadModel

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("trivial", "plain", "nm-workflow")
ACTORS = {  # client role -> (actor, role, department): reviewers never author (segregation of duties)
    "marketing": ("mia", Role.MARKETING, "marketing"),
    "editor": ("ed", Role.EDITOR, "marketing"),
    "department_head": ("dee", Role.DEPARTMENT_HEAD, "marketing"),
    "legal": ("lee", Role.LEGAL, "legal"),
}
CATCH_UP_LIMIT = 120.0  # seconds the projections get to reach the head after the load
STARTED = "Application startup complete."  # what uvicorn logs once a worker serves


@dataclass(frozen=True)
class Sizes:
    """How much to measure; the defaults take about 10 minutes on 2 cores with every part."""

    clients: tuple[int, ...] = (1, 16, 64)
    workers: tuple[int, ...] = (1, 2)
    databases: tuple[str, ...] = ("sqlite", "postgres")
    warmup: float = 1.0
    seconds: float = 5.0
    # Where the service's projections run (`serve --projections`): "default" (where `serve` runs them
    # unless told: a worker on SQLite, embedded on PostgreSQL), "embedded" (in the API process),
    # "worker" (a process of their own that serve starts) and/or "none" (not at all).
    projections: tuple[str, ...] = ("default",)


def run(
    sizes: Sizes, folder: Path, postgres_admin_url: str | None, say: Callable[[str], None]
) -> list[dict[str, Any]]:
    """One row per (database, workers, projections, server, clients): rate, p50/p99, errors, CPU, lag.

    The baselines are measured again for each set-up of the projections, beside it.
    """
    rows = []
    for database, workers, asked in product(sizes.databases, sizes.workers, sizes.projections):
        for server in SERVERS:
            place = folder / f"{database}-{workers}-{asked}-{server}"
            with fresh_database(database, place / "data", postgres_admin_url) as settings:
                projections = settings.served_projection_place if asked == "default" else asked
                # Rows named by where the projections ran; "default (worker)" if "worker" is asked too.
                also_by_name = asked == "default" and projections in sizes.projections
                named = f"default ({projections})" if also_by_name else projections
                keys = prepare(server, settings)
                with serving(server, workers, settings, place, projections) as (port, pids):
                    for clients in sizes.clients:
                        say(f"{database}, {workers} worker(s), {named}, {server}, {clients} client(s)")
                        service = server == "nm-workflow"
                        lag = service and projections != "none"
                        figures = drive(port, clients, sizes, keys, settings, pids, lag=lag, turns=service)
                        point = {"database": database, "workers": workers, "projections": named}
                        rows.append(point | {"server": server, "clients": clients} | figures)
    return rows


@contextmanager
def fresh_database(database: str, data_dir: Path, postgres_admin_url: str | None) -> Iterator[Settings]:
    """Settings naming an empty database: SQLite in `data_dir`, or a new PostgreSQL one (dropped after)."""
    if database != "postgres":
        yield Settings(database_url=None, data_dir=data_dir)
        return
    if postgres_admin_url is None:
        raise ValueError("PostgreSQL needs an admin URL.")
    url = create_database(postgres_admin_url)
    try:
        yield Settings(database_url=url, data_dir=data_dir)
    finally:
        drop_database(postgres_admin_url, url)


def prepare(server: str, settings: Settings) -> dict[str, str]:
    """Create the database's tables before workers race to; the service's keys per client role."""
    if server == "plain":
        plain_items(settings).close()
    if server != "nm-workflow":
        return {role: "unused" for role in ACTORS}
    store = EventStore(settings)
    try:
        keys = KeyService(store)
        return {
            role: keys.create(actor, [kind], department, issued_by="bench")
            for role, (actor, kind, department) in ACTORS.items()
        }
    finally:
        store.close()


@contextmanager
def serving(
    server: str, workers: int, settings: Settings, place: Path, projections: str = "embedded"
) -> Iterator[tuple[int, list[int]]]:
    """Serve `server` ("trivial", "plain", "nm-workflow") on a free port: (port, its processes' pids).

    The service is served with `serve --projections <projections>`: "embedded", "worker" (a
    process of their own, a child of serve, awaited until it owns every projection so that its
    start-up is not counted as the commands' CPU) or "none" (the command path by itself).
    """
    port = free_port()
    cli = str(Path(sys.executable).with_name("nm-workflow"))
    service = server == "nm-workflow"
    command = (
        [cli, "serve", "--projections", projections]
        if service
        else [sys.executable, "-m", "bench.serve", server]
    )
    command += ["--port", str(port), "--workers", str(workers)]
    env = server_environment(settings)
    place.mkdir(parents=True, exist_ok=True)
    log = place / "server.log"
    with running_server(command, port, log, env) as process:
        _await_workers(process, log, workers)
        if service and projections == "worker":
            _await_owners(process, settings)
        yield port, [process.pid]  # its CPU is its tree's: API workers and projection worker included


def server_environment(settings: Settings) -> dict[str, str]:
    """A server's environment: its database, and this tree's code first on its path."""
    env = {"NM_DATA_DIR": str(settings.data_dir), "PYTHONPATH": os.pathsep.join([SOURCE, str(ROOT)])}
    if settings.database_url:
        env["NM_DATABASE_URL"] = settings.database_url
    return env


def drive(
    port: int,
    clients: int,
    sizes: Sizes,
    keys: dict[str, str],
    settings: Settings,
    server_pids: list[int],
    *,
    lag: bool = False,
    turns: bool = False,
) -> dict[str, Any]:
    """Run the load process against the server at `port`, whose database `settings` name.

    `server_pids` are the server's processes: their CPU (and the database server's) per command
    is measured. With `lag` (the service, its projections running), the projections' lag too;
    with `turns` (the service) on SQLite, each writer's share of the time holding the file's
    write turn (bench/turns.py). Figures: the load process's (bench/client.py), plus
    `server_cpu_ms`, `projections_cpu_ms` (the projection worker's share of it, None without
    one) and `database_cpu_ms` per completed command (None for SQLite's, which runs in the
    server), and the lag and turn figures asked for.
    """
    spent = _CpuProbe(server_pids, settings)
    held = TurnProbe(port, sizes.warmup, sizes.seconds) if turns and settings.database_url is None else None
    options = {
        "port": port,
        "clients": clients,
        "warmup": sizes.warmup,
        "seconds": sizes.seconds,
        "keys": keys,
    }
    load = subprocess.Popen(
        [sys.executable, "-m", "bench.client", json.dumps(options)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    lagging = _LagProbe(settings, sizes.warmup, sizes.seconds) if lag else None
    output, _ = load.communicate()
    if load.returncode != 0:
        raise RuntimeError(f"The load process failed ({load.returncode}).")
    figures: dict[str, Any] = json.loads(output) | (held.finish() if held else {})
    if lagging is not None:
        figures |= lagging.finish()
    return figures | spent.per_command(figures["completed"])


class _CpuProbe:
    """CPU seconds of the server's process trees, of its projection worker's (when serve started one;
    within the server's) and of PostgreSQL's, from creation to `per_command`."""

    def __init__(self, server_pids: list[int], settings: Settings) -> None:
        database = _database_server(settings)
        self.roots = {
            "server": server_pids,
            "projections": cpu.projection_workers(server_pids),
            "database": [] if database is None else [database],
        }
        self.started = {name: self._spent(name) for name in self.roots}

    def _spent(self, name: str) -> float:
        return sum(cpu.cpu_seconds(pid) for pid in self.roots[name])

    def per_command(self, commands: int) -> dict[str, float | None]:
        """`server_cpu_ms`, `projections_cpu_ms` (the projection worker's share of the server's; None
        without one: embedded, the API processes hold it) and `database_cpu_ms` (None for SQLite, in
        the server): milliseconds of CPU per command since creation."""
        spent = {name: self._spent(name) - self.started[name] for name in self.roots}
        figures = {
            f"{name}_cpu_ms": 1000 * spent[name] / commands if self.roots[name] and commands else None
            for name in self.roots
        }
        if cpu.projection_workers(self.roots["server"]) != self.roots["projections"]:
            figures["projections_cpu_ms"] = None  # replaced meanwhile: the first one's CPU left with it
        return figures


def _database_server(settings: Settings) -> int | None:
    """The PostgreSQL server's postmaster, when the settings name one on this machine."""
    if settings.database_url is None:
        return None
    port = urlsplit(settings.database_url).port
    return cpu.postgres_server(port or 5432)


def _await_workers(process: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Wait until every worker process has started, not only the first to answer: a second worker
    still importing and building its app took the first load's cores (0.3-1 s of CPU, counted as
    the commands' own) from the worker serving it, and only in the rows of several workers."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while log.read_text(errors="replace").count(STARTED) < workers:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Not every worker started ({process.returncode}):\n{log.read_text()}")
        time.sleep(0.05)


def _await_owners(process: subprocess.Popen[bytes], settings: Settings) -> None:
    read_model = ReadModel(settings)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while any(row.owner is None for row in read_model.status()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The projection worker did not start ({process.returncode}).")
            time.sleep(0.1)
    finally:
        read_model.close()


class _LagProbe:
    """Samples the projections' largest lag during the measured window, then times the catch-up."""

    def __init__(self, settings: Settings, warmup: float, seconds: float) -> None:
        self.read_model = ReadModel(settings)
        self.samples: list[int] = []
        self.stop = threading.Event()
        self.window = (time.monotonic() + warmup, time.monotonic() + warmup + seconds)
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _lag(self) -> int:
        # `lags`, not `status`: status also names each projection's owner, on PostgreSQL through a
        # new connection per projection (13 per sample, 4 samples a second): a fork of a server
        # process each, CPU taken from the service measured on the same two cores.
        return max(self.read_model.lags()[1].values())

    def _sample(self) -> None:
        while not self.stop.wait(0.25):
            if self.window[0] <= time.monotonic() <= self.window[1]:
                self.samples.append(self._lag())

    def finish(self) -> dict[str, Any]:
        """Called when the load has stopped: lag figures, the catch-up time in seconds."""
        self.stop.set()
        self.thread.join()
        started = time.monotonic()
        try:
            while (lag := self._lag()) > 0 and time.monotonic() - started < CATCH_UP_LIMIT:
                time.sleep(0.02)
        finally:
            self.read_model.close()
        return {
            "lag_max_events": max(self.samples, default=0),
            "lag_mean_events": sum(self.samples) / len(self.samples) if self.samples else 0.0,
            "catch_up_seconds": time.monotonic() - started if lag == 0 else None,
        }
