"""The read side's plumbing: the database, the event log, and each projection's tracking."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from eventsourcing.persistence import PersistenceError
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import APPLICATION_NAME, EventStore
from nm_workflow.application.store_errors import translated_errors
from projections.base import Projection, Recorded
from projections.database import Database
from projections.failures import FailureLog
from projections.log_in_tx import LogInTx
from projections.ownership import Ownership, owner_of
from projections.registry import select
from projections.sql import Row
from projections.tracking import PostgresProjectionRecorder, SQLiteProjectionRecorder, open_recorder

Recorder = SQLiteProjectionRecorder | PostgresProjectionRecorder
_LAST = 2**63 - 1
"""The highest position SQLite's rowid can hold: no position after it."""
SETUP_ATTEMPTS = 5


class EventSource:
    """The store's notification log, read in batches and decoded.

    On SQLite the rows are read with the store's connection and decoded as a rebuild decodes
    them (projections/log_in_tx.py): the same events, without a `Notification` made for each
    (a frozen dataclass, its fields set one call each) or each aggregate's id parsed again at
    each of its events. On PostgreSQL through the store's recorder, on its generic plan
    (nm_workflow.application.log_reads)."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        recorder = store.recorder
        self._sqlite: tuple[LogInTx, SQLiteDatastore] | None = None
        if isinstance(recorder, SQLiteApplicationRecorder):
            self._sqlite = (LogInTx(store), recorder.datastore)

    def head(self) -> int:
        return self._store.recorder.max_notification_id() or 0

    def read(self, after: int, upto: int | None, topics: Sequence[str], limit: int) -> list[Recorded]:
        """Events with positions in (after, upto] (after `after` when `upto` is None), of `topics`
        (all when empty), at most `limit`."""
        if self._sqlite is not None:
            log, datastore = self._sqlite
            with datastore.transaction(commit=False) as cursor:
                rows = log.fetch_with(cursor, after, _LAST if upto is None else upto, topics, limit)
            return log.decoded(rows)
        notifications = self._store.recorder.select_notifications(
            after, limit, stop=upto, topics=list(topics), inclusive_of_start=False
        )
        to_event = self._store.mapper.to_domain_event
        return [Recorded(n.id, n.topic, to_event(n)) for n in notifications]


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int
    """Log position the projection's tables reflect."""
    head: int
    """Highest position in the log."""
    lag: int
    """head - position (positions, not events: the log may have gaps)."""
    tables: tuple[str, ...]
    owner: str | None
    """The process working the projection, if any."""
    state: str = "not run here"
    """In this process: running, standby (another process owns it), stopped or not run here."""
    last_error: str | None = None
    """While failing: `ErrorType: message` of the last attempt to apply the events after `position`."""
    failing_since: datetime | None = None
    """While failing, in whichever process runs it: when the first failed attempt in a row was made."""
    attempts: int = 0
    """While failing: failed attempts in a row."""


class ReadSide:
    """Opens (and creates when missing) every projection's tables and tracking."""

    def __init__(self, settings: Settings, store: EventStore | None = None) -> None:
        self.settings = settings
        self._owns_store = store is None
        self.store = store or EventStore(settings)
        self.db = Database(self.store, lock_timeout=max(settings.db_lock_timeout, 10))
        self.source = EventSource(self.store)
        self.rebuild_locks = Ownership(settings)
        """The rebuilds' locks (projections/rebuild.py), on one connection kept while this lives."""
        self.projections: dict[str, Projection] = {cls.name: cls(settings) for cls in select()}
        with translated_errors():
            self.recorders: dict[str, Recorder] = {
                name: self._prepare(projection) for name, projection in self.projections.items()
            }
            self.failures = FailureLog(self.db)

    def _prepare(self, projection: Projection) -> Recorder:
        statements = projection.ddl(self.db.dialect, projection.live_tables(), views=True)
        for attempt in range(SETUP_ATTEMPTS):
            try:
                recorder = open_recorder(self.db.datastore, projection.tracking_table, statements)
                recorder.start(APPLICATION_NAME)
                return recorder
            except PersistenceError:
                # Processes starting together race to CREATE the same tables; the loser retries.
                if attempt == SETUP_ATTEMPTS - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    def position(self, name: str) -> int:
        with translated_errors():
            return self.recorders[name].position(APPLICATION_NAME)

    def positions(self, names: Sequence[str] | None = None) -> dict[str, int]:
        return {cls.name: self.position(cls.name) for cls in select(names)}

    def head(self) -> int:
        # Through the store: in a request, it answers at once while the database was found
        # unreachable moments ago (probes and scrapes of an outage do not wait for it each time).
        return self.store.head()

    def lags(self) -> tuple[int, dict[str, int]]:
        """The log head, and the positions each projection still has to apply to reach it."""
        head = self.head()
        return head, {name: max(head - position, 0) for name, position in self.positions().items()}

    def wait_for(self, position: int, names: Sequence[str] | None = None, timeout: float = 5.0) -> bool:
        """Block until the named projections (all when None) reflect `position`; False on timeout."""
        wanted = [cls.name for cls in select(names)]
        deadline, delay = time.monotonic() + timeout, 0.005
        while True:
            wanted = [name for name in wanted if self.position(name) < position]
            remaining = deadline - time.monotonic()
            if not wanted or remaining <= 0:
                return not wanted
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)

    def status(self, names: Sequence[str] | None = None) -> list[ProjectionStatus]:
        head = self.head()
        with translated_errors():
            failures = self.failures.current()
        rows = []
        for cls in select(names):
            position = self.position(cls.name)
            owner = owner_of(self.settings, f"projection:{cls.name}")
            lag = max(head - position, 0)
            row = ProjectionStatus(cls.name, position, head, lag, cls.tables, owner)
            if (failure := failures.get(cls.name)) is not None:
                row = replace(row, last_error=failure.last_error, failing_since=failure.failing_since,
                              attempts=failure.attempts)  # fmt: skip
            rows.append(row)
        return rows

    def close(self) -> None:
        self.rebuild_locks.close()
        if self._owns_store:
            self.store.close()

    def _all(self, projection: str, statement: str, params: dict[str, Any]) -> list[Row]:
        """Rows of a query over one projection's live tables, in one read transaction."""
        tables = self.projections[projection].live_tables()
        with translated_errors(), self.db.read(tables) as tx:
            return tx.all(statement, params)

    def _latest_first(
        self, table: str, key: str, filters: dict[str, Any], before: int | None, limit: int
    ) -> list[Row]:
        """Rows of the projection named like `table`, newest `key` first, equal to the non-None
        `filters`, below `before` (the last `key` of the previous page) when given."""
        chosen = {name: value for name, value in filters.items() if value is not None}
        where = [f"{name} = :{name}" for name in chosen]
        if before is not None:
            where.append(f"{key} < :before")
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        return self._all(
            table,
            f"SELECT * FROM {{{table}}} {clause}ORDER BY {key} DESC LIMIT :limit",  # noqa: S608
            chosen | {"before": before, "limit": limit},
        )
