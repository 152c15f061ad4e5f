"""The PostgreSQL connection pool of the event store's recorder, as the store reports and judges it."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool


def _pool(recorder: Any) -> ConnectionPool[Any] | None:
    pool = getattr(getattr(recorder, "datastore", None), "pool", None)
    return pool if isinstance(pool, ConnectionPool) else None


def pool_usage(recorder: Any) -> dict[str, int]:
    """`recorder`'s pool counts (psycopg_pool names): pool_max, pool_size, pool_available,
    requests_waiting; empty on SQLite, which has no pool."""
    pool = _pool(recorder)
    if pool is None:
        return {}
    stats = pool.get_stats()
    return {"pool_max": pool.max_size} | {
        name: stats.get(name, 0) for name in ("pool_size", "pool_available", "requests_waiting")
    }


def saturated(recorder: Any, connect_timeout: float) -> bool:
    """No pooled connection came free, yet the database answers (a fresh connection within
    `connect_timeout` seconds): this process is the bottleneck, not the database. False on SQLite."""
    pool = _pool(recorder)
    if pool is None:
        return False
    stats = pool.get_stats()
    if stats.get("pool_available", 0) > 0 or stats.get("pool_size", 0) < pool.max_size:
        return False
    # A full pool looks the same while its connections are being re-made in an outage: ask.
    kwargs = pool.kwargs
    assert isinstance(kwargs, dict)  # the library passes a dict, not a callable
    try:  # the setting's connect_timeout, also when the URL names one (a libpq option)
        with psycopg.connect(**{**kwargs, "connect_timeout": connect_timeout}):
            return True
    except psycopg.Error:
        return False
