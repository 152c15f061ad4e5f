"""Event store appends at 1 and 8 writers against raw inserts of the same bytes, same run.

Each writer appends one event at a time to its own aggregate, as a command does.
The store: `EventStore.record`, the commands' way (mapping, group commit, the
service's recorder: the save in one round trip with the hash chain, ADR 0036;
the library's pool). The store without the chain: the same with the library's
own recorder (its four round trips, no hash chain, ADR 0031), on tables of its
own. Last, the store with group commit off (`NM_GROUP_COMMIT_MAX_BATCH=1`: one
transaction per append). Raw: one connection
per writer inserting the very bytes the store wrote (id, version, topic, state)
into a table of the same shape, one autocommitted INSERT each (psycopg on
PostgreSQL, sqlite3 on SQLite), through one cursor that the writer keeps, as a
careful writer does (psycopg keeps a cursor's adapters while it runs the same
query again: on PostgreSQL about half the client CPU per insert, ADR 0065); and
for comparison with runs before that, through a cursor per insert
(`connection.execute`). The report's cost is against raw inserts at 1 writer;
the target (store >= 0.7 of raw at 8 writers) compares the store's 8-writer row
with the kept cursor's.

    python -m bench.appends [--n 200] [--database-url postgresql://...]
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.utils import Environment

from bench.commands import Counter, saving_one_event
from bench.report import main
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore

WRITERS = (1, 8)
RAW_TABLE = "bench_raw_events"


def _rate(writers: int, n: int, append: Callable[[int], Callable[[], object]]) -> float:
    """Events per second of `writers` threads each calling its own `append(writer)()` n times."""
    operations = [append(writer) for writer in range(writers)]
    start = threading.Barrier(writers + 1)
    failures: list[BaseException] = []

    def write(operation: Callable[[], object]) -> None:
        start.wait()
        try:
            for _ in range(n):
                operation()
        except BaseException as error:  # re-raised below: a failed case must not report a rate
            failures.append(error)

    threads = [threading.Thread(target=write, args=(operation,)) for operation in operations]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return writers * n / (time.perf_counter() - began)


class UnchainedStore(EventStore):
    """The event store with the library's own recorder (no hash chain), on tables of its own."""

    name = "unchained"

    def __init__(self, settings: Settings) -> None:
        # SQLite: a file of its own, since the library's table name does not depend on the name.
        super().__init__(settings.model_copy(update={"data_dir": settings.data_dir / "unchained"}))

    def construct_env(self, name: str, env: Any = None) -> Environment:
        environment = super().construct_env(name, env)
        del environment["APPLICATION_RECORDER_TOPIC"]
        return environment


class _Raw:
    """Inserts of one stored event's bytes, each writer on its own connection and aggregate id."""

    def __init__(self, settings: Settings, sample: Any) -> None:
        self.settings, self.sample = settings, sample
        self.connections: list[Any] = []
        postgres = settings.uses_postgres
        key = "bigserial" if postgres else "integer"
        columns = (
            f"notification_id {key} PRIMARY KEY, originator_id {'uuid' if postgres else 'text'},"
            f" originator_version bigint, topic text, state {'bytea' if postgres else 'blob'},"
            " UNIQUE (originator_id, originator_version)"
        )
        with self._connect() as connection:
            connection.execute(f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} ({columns})")

    def _connect(self) -> Any:
        if self.settings.database_url:
            return psycopg.connect(self.settings.database_url, autocommit=True)
        # Made in the main thread, used by a writer's thread: as the library's own connections.
        return sqlite3.connect(
            self.settings.sqlite_path, isolation_level=None, timeout=30, check_same_thread=False
        )

    def for_writer(self, _: int, *, kept_cursor: bool = True) -> Callable[[], object]:
        connection = self._connect()
        self.connections.append(connection)
        originator = Counter().id
        versions = iter(range(1, 10**9))
        mark = "%s" if self.settings.uses_postgres else "?"
        insert = f"INSERT INTO {RAW_TABLE} (originator_id, originator_version, topic, state) VALUES "
        insert += f"({', '.join([mark] * 4)})"
        originator_id = originator if self.settings.uses_postgres else originator.hex

        execute = connection.cursor().execute if kept_cursor else connection.execute

        def append() -> object:
            return execute(insert, (originator_id, next(versions), self.sample.topic, self.sample.state))

        return append

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


def run(settings: Settings, n: int) -> dict[str, float]:
    """Events per second of each case; the raw inserts at 1 writer first (the baseline)."""
    store, unchained = EventStore(settings), UnchainedStore(settings)
    solo = EventStore(settings.model_copy(update={"group_commit_max_batch": 1}))
    counter = Counter()
    counter.increment()
    sample = store.mapper.to_stored_event(counter.collect_events()[-1])
    raw = _Raw(settings, sample)
    results: dict[str, float] = {}
    try:
        for writers in WRITERS:
            results[f"raw inserts, {writers} writer(s)"] = _rate(writers, n, raw.for_writer)
            per_insert = _rate(writers, n, lambda writer: raw.for_writer(writer, kept_cursor=False))
            results[f"raw inserts, a cursor per insert, {writers} writer(s)"] = per_insert
            without = _rate(writers, n, lambda _: saving_one_event(unchained.record))
            results[f"store appends without the chain, {writers} writer(s)"] = without
            store_appends = _rate(writers, n, lambda _: saving_one_event(store.record))
            results[f"store appends, {writers} writer(s)"] = store_appends
        solo_appends = _rate(WRITERS[-1], n, lambda _: saving_one_event(solo.record))
        results[f"store appends, {WRITERS[-1]} writer(s), group commit off"] = solo_appends
    finally:
        raw.close()
        solo.close()
        store.close()
        unchained.close()
    return {f"baseline: {case}" if i == 0 else case: rate for i, (case, rate) in enumerate(results.items())}


if __name__ == "__main__":
    main(__doc__, ("n", 200, "appends per writer"), run, "events/s")
