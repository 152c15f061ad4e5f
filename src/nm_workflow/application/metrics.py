"""The service's Prometheus metrics, defined once (prometheus-client).

Each part of the service updates its own metrics here; `/metrics` serves them
(interface/http). Names follow Prometheus conventions: a unit suffix, `_total`
on counters. Label values are few and fixed (route templates, command names,
projection names), never ids, so the series stay bounded.
"""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

# Latency buckets (seconds) from a fast read on loopback to a slow command under load.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_SECONDS = Histogram(
    "nm_http_request_duration_seconds",
    "Time from a request's arrival to its response, by route template, method and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
COMMANDS = Counter(
    "nm_commands_total",
    "Commands run through the write path, by command and outcome "
    "(applied, replayed, refused, conflict, failed).",
    ["command", "outcome"],
)
CONFLICTS = Counter(
    "nm_conflicts_total",
    "Commands refused for a version conflict: If-Match stale or a concurrent write won.",
    ["command"],
)
IDEMPOTENT_REPLAYS = Counter(
    "nm_idempotent_replays_total",
    "Commands answered from their Idempotency-Key's first outcome.",
    ["command"],
)
GROUP_COMMIT_BATCH_SIZE = Histogram(
    "nm_group_commit_batch_size",
    "Commands saved per group-commit transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
GROUP_COMMIT_WAIT_SECONDS = Histogram(
    "nm_group_commit_wait_seconds",
    "Time a command's save waited for its batch to commit (queueing plus the transaction).",
    buckets=LATENCY_BUCKETS,
)
PROJECTION_LAG_EVENTS = Gauge(
    "nm_projection_lag_events",
    "Log positions a projection still has to apply (log head minus its tracked position).",
    ["projection"],
    # The latest reading of any process: each is the truth at its moment (the scraped worker reads
    # the database at every scrape), where the largest could be a worker's lag of long ago.
    multiprocess_mode="mostrecent",
)
PROJECTION_EVENTS_APPLIED = Counter(
    "nm_projection_events_applied_total",
    "Events applied by a projection (its rate is the apply rate).",
    ["projection"],
)
PROJECTION_PLANS = Counter(
    "nm_projection_plans_total",
    "SQLite: a projection's shares of batches, by what became of each: planned (worked out before "
    "the write turn, only its statements run under it) or why it was applied under the turn instead "
    "(reads_its_writes, failed, moved, replaced, unavailable).",
    ["projection", "outcome"],
)
POOL_CONNECTIONS = Gauge(
    "nm_db_pool_connections",
    "The API processes' database connection pools, summed over the workers: pool_max, pool_size (open), "
    "pool_available (idle) and requests_waiting (callers queued for a connection). PostgreSQL only.",
    ["state"],
    multiprocess_mode="livesum",
)
WEBHOOK_DELIVERIES = Counter(
    "nm_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome (delivered: the receiver answered 2xx; failed).",
    ["outcome"],
)
SQLITE_WRITE_TURN_WAIT_SECONDS = Histogram(
    "nm_sqlite_write_turn_wait_seconds",
    "Time an SQLite write transaction waited for the write lock file, held by another process's "
    "writer (0 when free; ADR 0041). SQLite only.",
    buckets=(0.0001, *LATENCY_BUCKETS),
)
SQLITE_WRITE_TURN_HELD_SECONDS = Histogram(
    "nm_sqlite_write_turn_held_seconds",
    "Time an SQLite write transaction held the write lock file, from its turn to its commit or "
    "rollback (counted when it ends), by writer (projections: the read side's batches and "
    "rebuilds; store: every other write, commands' saves first). The rate of its sums is the share "
    "of the time the file's one writer slot is taken (near 1: writers queue; ADR 0082). SQLite only.",
    ["writer"],
    buckets=(0.0001, *LATENCY_BUCKETS),
)

_CHILDREN: dict[tuple[MetricWrapperBase, tuple[str, ...]], MetricWrapperBase] = {}


def child(metric: M, *values: str) -> M:
    """`metric.labels(*values)`, looked up once per process and then kept: the library checks the
    values and takes a lock at every call, on every command. Label values are few and fixed (see
    above), so this holds as many children as the metrics themselves do."""
    key = (metric, values)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*values)
    return found  # type: ignore[return-value]  # the child of an M is an M
