"""What operators watch: Prometheus metrics at /metrics, and the probes /healthz and /readyz.

`/health` (routes_meta) stays the detailed report for people; the probes answer the two
questions an orchestrator asks: is the process alive (restart it if not) and should it get
traffic (database reachable, read side within NM_READY_MAX_LAG_EVENTS of the log).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import threading
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nm_workflow.application.errors import ProjectionsBehind, StoreUnavailable
from nm_workflow.application.metrics import POOL_CONNECTIONS, PROJECTION_LAG_EVENTS, REQUEST_SECONDS, child
from nm_workflow.application.store import EventStore
from nm_workflow.interface.http.hop_route import HopRoute
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.schemas_out import Problem
from projections import ReadModel

router = APIRouter(tags=["service"], route_class=HopRoute)

UNMATCHED = "unmatched"  # one label for every path no route serves, so that scanners cannot grow the series
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"  # HTTP lets a client send any token as a method: one label for all it may invent


class RequestMetrics:
    """ASGI middleware: each request's duration into REQUEST_SECONDS, by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500  # 500 unless a response starts: the app raised

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - start
            method = scope["method"] if scope["method"] in METHODS else OTHER_METHOD
            child(REQUEST_SECONDS, route_template(scope), method, str(status)).observe(seconds)


def route_template(scope: Scope) -> str:
    """The path template of the route that served `scope` (`/items/{item_id}`), or UNMATCHED."""
    return str(getattr(scope.get("route"), "path", UNMATCHED))


_METRICS_EXAMPLE = (
    "# HELP nm_commands_total Commands run through the write path, by command and outcome.\n"
    "# TYPE nm_commands_total counter\n"
    'nm_commands_total{command="approve",outcome="applied"} 42.0\n'
)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}, "example": _METRICS_EXAMPLE}}}
    },
    **callers(),
)
def metrics(request: Request) -> Response:
    """Prometheus text exposition of this service's metrics (docs/operators.md lists them).

    Unauthenticated, like /health: scrape it from inside the network, and keep it off the
    public side of the reverse proxy. With several workers the figures are summed over the
    workers' processes (prometheus-client's multiprocess mode, set up by `nm-workflow serve`).
    """
    _observe(request.app.state.store, request.app.state.read_model)
    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        WorkersCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class WorkersCollector(multiprocess.MultiProcessCollector):
    """The workers' metrics files merged, but for a file still empty.

    A process creates its file and only then sizes it: a scrape in between read no header and
    failed whole (500), and a worker killed in that window left the empty file for good, so
    every later scrape failed until a restart (prometheus/client_python issue 1199, open). An
    empty file holds no value yet: skipped, as one removed since the folder was listed is.
    """

    def collect(self) -> Any:
        files = [path for path in glob.glob(os.path.join(self._path, "*.db")) if _holds_anything(path)]
        return self.merge(files, accumulate=True)  # type: ignore[no-untyped-call]


def _holds_anything(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:
        return False


def _observe(store: EventStore, read_model: ReadModel) -> None:
    """Gauges read at scrape time: the pool, and each projection's lag wherever it runs."""
    _report_pool(store)
    try:
        lags = read_model.lags()[1]
    except StoreUnavailable:  # an outage is when the figures are watched: served, the lags as last read
        return
    for name, lag in lags.items():
        PROJECTION_LAG_EVENTS.labels(name).set(lag)


def _report_pool(store: EventStore) -> None:
    usage = store.pool_usage()
    # No series at all where there is no pool (SQLite). Across processes prometheus-client
    # cannot clear (it only warns), and no process without a pool ever made a series there.
    if not usage and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        POOL_CONNECTIONS.clear()
    # The same series set again, never cleared first: under several workers each series made
    # anew would be one more value prometheus-client keeps until the process ends.
    for state, count in usage.items():
        POOL_CONNECTIONS.labels(state).set(count)


class PoolReporter:
    """Keeps this process's pool gauges current when several processes share the metrics.

    A scrape is answered by one worker, which reads its own pool; the others' counts in the
    shared folder are what they last wrote. So under `serve --workers N` each worker writes
    its counts every `interval` seconds, and forgets those of workers that died (uvicorn
    starts a new one with another pid), which would otherwise be summed for good.
    Does nothing in a process whose metrics are its own (no PROMETHEUS_MULTIPROC_DIR).
    """

    def __init__(self, store: EventStore, interval: float = 1.0) -> None:
        self._store, self._interval = store, interval
        self._folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nm-pool-metrics", daemon=True)

    def start(self) -> None:
        if self._folder:
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        assert self._folder is not None
        while True:
            _report_pool(self._store)
            for path in glob.glob(os.path.join(self._folder, "gauge_live*_*.db")):
                named = _LIVE_GAUGE_FILE.fullmatch(os.path.basename(path))  # else not a pid's file
                if named and not _alive(int(named[1])):
                    # Every worker clears a dead one's files: another may remove one first.
                    with contextlib.suppress(FileNotFoundError):
                        multiprocess.mark_process_dead(int(named[1]), self._folder)  # type: ignore[no-untyped-call]
            if self._stopped.wait(self._interval):
                return


_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_([0-9]+)\.db")
"""prometheus-client's file of a process's live gauges, by its pid."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


@router.get(
    "/healthz",
    responses={200: {"content": {"application/json": {"example": {"status": "alive"}}}}},
    **callers(),
)
def healthz() -> dict[str, str]:
    """Liveness: 200 while the process serves requests. Touches no database, so that an
    outage of the database never gets healthy processes restarted."""
    return {"status": "alive"}


_READY = {"status": "ready", "log_head": 1234, "max_lag_events": 0, "threshold_events": 1000}


@router.get(
    "/readyz",
    responses={
        200: {"content": {"application/json": {"example": _READY}}},
        503: {"model": Problem, "description": "Event store unreachable, or the read side too far behind"},
    },
    **callers(),
)
def readyz(request: Request) -> dict[str, Any]:
    """Readiness: the event store answers and every projection is within
    NM_READY_MAX_LAG_EVENTS of the log head.

    503 `store-unavailable` when the store cannot be reached; 503 `projections-behind`
    naming each projection past the threshold and its lag. Both carry Retry-After.
    """
    read_model: ReadModel = request.app.state.read_model
    threshold = request.app.state.settings.ready_max_lag_events
    head, lags = read_model.lags()
    behind = {name: lag for name, lag in sorted(lags.items()) if lag > threshold}
    if behind:
        listed = ", ".join(f"{name} ({lag} events)" for name, lag in behind.items())
        raise ProjectionsBehind(f"Projections more than {threshold} events behind log head {head}: {listed}.")
    return {"status": "ready", "log_head": head, "max_lag_events": max(lags.values(), default=0),
            "threshold_events": threshold}  # fmt: skip
