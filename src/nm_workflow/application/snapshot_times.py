"""When each snapshot's version was recorded: the versions at a time found in one read (ADR 0044).

The table `snapshot_times (aggregate_id, version, recorded_at)` holds, for each snapshot the
store takes, the time of the event at that version (`recorded_at`, ISO 8601 text in UTC with
microseconds on both databases, e.g. `2026-03-02T10:00:00.000000+00:00`, which sorts as
time does). It is an index of the log, not of the snapshots: an entry stays true whether or
not its snapshot is still there. It is written with the snapshot (`write`), after the commit of
the events; an entry that is missing (a failed write, snapshots taken by an earlier release) only
makes an `as_of` read take longer, never wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

from nm_workflow.application.postgres import bounded_retry
from nm_workflow.application.postgres_save import kept_cursor
from nm_workflow.application.side_tables import create_tables, iso

TABLE = "snapshot_times"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (aggregate_id TEXT NOT NULL, version BIGINT NOT NULL,"
    " recorded_at TEXT NOT NULL, PRIMARY KEY (aggregate_id, version))"
)
# `around` reads one entry of this index on each side of the time, however many versions of the
# aggregate are noted; the primary key alone made it filter all of them (docs/performance-history.md,
# "`as_of` from noted snapshot times").
_INDEX = f"CREATE INDEX IF NOT EXISTS {TABLE}_by_time ON {TABLE} (aggregate_id, recorded_at, version)"


def around_statement(marker: str) -> str:
    """The SELECT of `SnapshotTimes.around`, with `marker` (`?` or `%s`) for its four parameters:
    aggregate id, time, aggregate id, time. One row: `below`, `above`."""
    # Event times do not go back within an aggregate (as_of.py): the latest recorded at or
    # before the time is the highest version so recorded, the earliest after it the lowest.
    return (
        f"SELECT (SELECT version FROM {TABLE}"  # noqa: S608
        f" WHERE aggregate_id = {marker} AND recorded_at <= {marker}"
        " ORDER BY recorded_at DESC, version DESC LIMIT 1) AS below,"
        f" (SELECT version FROM {TABLE}"
        f" WHERE aggregate_id = {marker} AND recorded_at > {marker}"
        " ORDER BY recorded_at, version LIMIT 1) AS above"
    )


def _snapshot_and_time(schema: str, snapshots_table: str) -> str:
    """PostgreSQL: the snapshot's row and its time's row in one statement (one round trip, one
    commit); a snapshot already there (a unique violation) writes neither, as before."""
    table = SQL("{}.{}").format(Identifier(schema), Identifier(snapshots_table)).as_string(None)
    return (
        f"WITH snapshot AS (INSERT INTO {table} (originator_id, originator_version, topic, state)"  # noqa: S608
        " VALUES (%(id)s, %(version)s, %(topic)s, %(state)s))"
        f" INSERT INTO {TABLE} (aggregate_id, version, recorded_at)"
        " VALUES (%(aggregate)s, %(version)s, %(at)s) ON CONFLICT (aggregate_id, version) DO NOTHING"
    )


class SnapshotTimes:
    """Notes the time of each snapshot's version, and finds the noted versions around a time."""

    def __init__(
        self, datastore: Any, guard: Callable[[], AbstractContextManager[None]], snapshots_table: str
    ) -> None:
        """`datastore`: the event store's; `guard`: its fail-fast guard (`EventStore._database`),
        which every read and write here goes through, as the store's own do: while the database
        was found unreachable moments ago a request fails at once, and a pool with no free
        connection is StoreBusy, not StoreUnavailable. `snapshots_table`: the library's table of
        snapshots, in the datastore's schema (written together with this one on PostgreSQL)."""
        self._datastore = datastore
        self._guard = guard
        self._postgres = isinstance(datastore, PostgresDatastore)
        if self._postgres:
            self._with_snapshot = _snapshot_and_time(datastore.schema, snapshots_table)
        marker = "%s" if self._postgres else "?"
        self._insert = (
            f"INSERT INTO {TABLE} (aggregate_id, version, recorded_at)"  # noqa: S608
            f" VALUES ({marker}, {marker}, {marker}) ON CONFLICT (aggregate_id, version) DO NOTHING"
        )
        self._around = around_statement(marker)
        create_tables(datastore, [_CREATE, _INDEX])

    def write(
        self, snapshot: StoredEvent, recorded_at: datetime, put: Callable[[Sequence[StoredEvent]], object]
    ) -> None:
        """Store `snapshot` (the library's stored form) and note that its version was recorded at
        `recorded_at`. On PostgreSQL in one statement: with the two statements and commits of `put`
        (the snapshot recorder's `insert_events`) and `note`, a snapshot cost its writer about
        660,000 instructions, now about 400,000 (docs/adr/0059); on SQLite, `put` then `note`,
        each in the process's write turn.

        Raises StoreUnavailable or StoreBusy when the database fails, ConcurrentModification when
        the snapshot is there already (then its time is not noted here either).
        """
        aggregate_id, version = UUID(str(snapshot.originator_id)), snapshot.originator_version
        if not self._postgres:
            with self._guard():
                put([snapshot])
            self.note(aggregate_id, version, recorded_at)
            return
        row: dict[str, Any] = {"id": aggregate_id, "version": version, "topic": snapshot.topic}
        row |= {"state": snapshot.state, "aggregate": str(aggregate_id), "at": iso(recorded_at)}
        with self._guard():
            self._write_with_time(row)

    @bounded_retry
    def _write_with_time(self, row: dict[str, Any]) -> None:
        # Retried as the snapshot recorder's `insert_events` it replaces (and every write of the
        # store): a pooled connection that broke while idle (ADR 0027: no ping before lending one)
        # costs one more attempt, not the snapshot and a fail-fast pause of the requests after it.
        # On the connection's kept cursor: a fresh one looked up the row's dumpers again each
        # time, a fifth of the statement's instructions (docs/adr/0065).
        with self.datastore.get_connection() as conn:
            kept_cursor(conn, "snapshot").execute(self._with_snapshot, row)

    @property
    def datastore(self) -> Any:
        """The event store's datastore (`bounded_retry` checks its pool between attempts)."""
        return self._datastore

    def note(self, aggregate_id: UUID, version: int, recorded_at: datetime) -> None:
        """Note that the event at `version` was recorded at `recorded_at` (again: no change).

        Raises StoreUnavailable or StoreBusy when the database fails.
        """
        with self._cursor(commit=True) as cursor:
            cursor.execute(self._insert, (str(aggregate_id), version, iso(recorded_at)))

    def noted(self) -> set[tuple[UUID, int]]:
        """(aggregate id, version) of every row."""
        with self._cursor(commit=False) as cursor:
            cursor.execute(f"SELECT aggregate_id, version FROM {TABLE}")  # noqa: S608
            rows = cursor.fetchall()
        return {(UUID(row["aggregate_id"]), int(row["version"])) for row in rows}

    def around(self, aggregate_id: UUID, moment: datetime) -> tuple[int, int | None]:
        """(the latest noted version recorded at or before `moment`, 0 if none; the earliest
        noted version recorded after it, None if none), in one read.

        Raises StoreUnavailable (at once while the store's fail-fast pause lasts) or StoreBusy.
        """
        at = iso(moment)
        with self._cursor(commit=False) as cursor:
            cursor.execute(self._around, (str(aggregate_id), at, str(aggregate_id), at))
            row = cursor.fetchone()
        return row["below"] or 0, row["above"]

    @contextmanager
    def _cursor(self, *, commit: bool) -> Iterator[Any]:
        # One statement each: on PostgreSQL autocommitted, one round trip (a transaction would
        # add two, BEGIN and COMMIT, to what an `as_of` read waits for).
        with self._guard():
            if self._postgres:
                with self._datastore.cursor() as cursor:
                    yield cursor
            else:
                with self._datastore.transaction(commit=commit) as cursor:
                    yield cursor
