"""Several aggregates' events in one database round trip.

A command needs the events of up to four aggregates before it can decide: the
caller's API key (revoked since this process last looked?), its idempotency
record, the target aggregate, and the workflow policy (approved since?). Each
is wanted from a version on: the versions this process knows already are not
read again. On PostgreSQL one SELECT joins the wanted (id, after version) pairs
to the primary key (`SeveralAggregatesReads`, mixed into the recorder); on
SQLite (in-process calls, not round trips) one SELECT of the same pairs ORed,
on its own (no BEGIN and ROLLBACK around it), saves the statements and locking
of three more reads. See docs/adr/0027-the-lean-command-path.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property, lru_cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteCursor, SQLiteTransaction
from psycopg.sql import SQL, Identifier

from nm_workflow.application.generic_plans import generic_plan_rows

Wanted = Mapping[UUID, int]
"""Aggregate id -> the version after which its events are wanted (0: all of them)."""


class SeveralAggregatesReads:
    """Mixed into the library's PostgreSQL recorder: `select_events_of` in one statement."""

    datastore: PostgresDatastore
    events_table_name: str

    @cached_property
    def _statement(self) -> bytes:
        # Composed once: composing and encoding it were a good part of the read's own CPU.
        # A LATERAL subquery with its own ORDER BY (never pulled up into the join), so that each
        # wanted pair is one range scan of the primary key. As a plain join, the planner took a
        # hash join over a sequential scan of the whole log while the log was small (it reckons
        # the unnest at 10 rows): 0.2-0.3 ms of the server's per command at a thousand events,
        # growing with the log until it switched (docs/performance-history.md, "The command's read
        # on PostgreSQL").
        return (
            SQL(
                "SELECT e.originator_id, e.originator_version, e.topic, e.state"
                " FROM unnest(%s::uuid[], %s::bigint[]) AS w(id, after)"
                " CROSS JOIN LATERAL (SELECT originator_id, originator_version, topic, state"
                " FROM {schema}.{table} WHERE originator_id = w.id AND originator_version > w.after"
                " ORDER BY originator_version) AS e"
                " ORDER BY e.originator_id, e.originator_version"
            )
            .format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
            .as_bytes(None)
        )

    def select_events_of(self, wanted: Wanted) -> dict[UUID, list[StoredEvent]]:
        """Each wanted aggregate's events after its version, in version order ([] for none)."""
        found: dict[UUID, list[StoredEvent]] = {aggregate_id: [] for aggregate_id in wanted}
        if not wanted:
            return found
        with self.datastore.get_connection() as connection:
            # Its generic plan: custom plans (one per execution) see one pair where it reckons ten.
            rows: list[dict[str, Any]] = generic_plan_rows(
                connection, self._statement, (list(wanted), list(wanted.values()))
            )
        for row in rows:
            event = StoredEvent(
                row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"])
            )
            found[row["originator_id"]].append(event)
        return found


def select_events_of(recorder: AggregateRecorder, wanted: Wanted) -> Mapping[UUID, Sequence[StoredEvent]]:
    """`wanted` read in one statement where the recorder can, else one read per aggregate."""
    if isinstance(recorder, SeveralAggregatesReads):
        return recorder.select_events_of(wanted)
    if isinstance(recorder, SQLiteAggregateRecorder) and wanted:
        return _sqlite_select_events_of(recorder, wanted)
    return {each: recorder.select_events(each, gt=after) for each, after in wanted.items()}


def _sqlite_select_events_of(
    recorder: SQLiteAggregateRecorder, wanted: Wanted
) -> dict[UUID, list[StoredEvent]]:
    found: dict[UUID, list[StoredEvent]] = {aggregate_id: [] for aggregate_id in wanted}
    # Each row's id as stored (the UUID's hex, as the library writes it and as the statement asks
    # for it) finds the wanted UUID and its list: no UUID parsed per row.
    by_hex = {aggregate_id.hex: (aggregate_id, events) for aggregate_id, events in found.items()}
    read = recorder.datastore.get_connection(commit=False)
    with read as connection, _OneStatement(connection) as statement_cursor, statement_cursor as cursor:
        cursor.execute(
            _sqlite_statement(recorder.events_table_name, len(wanted)),
            [value for each, after in wanted.items() for value in (each.hex, after)],
        )
        for stored_id, version, topic, state in cursor.fetchall():
            aggregate_id, events = by_hex[stored_id]
            events.append(StoredEvent(aggregate_id, version, topic, state))
    return found


@lru_cache(maxsize=16)
def _sqlite_statement(table: str, pairs: int) -> str:
    """The SELECT of `pairs` (id, after version) pairs, made once per table and count (1 to 4)."""
    # The library's table name and placeholders only: the ids and versions are parameters.
    wanted = " OR ".join(["(originator_id = ? AND originator_version > ?)"] * pairs)
    return (
        f"SELECT originator_id, originator_version, topic, state FROM {table}"  # noqa: S608
        f" WHERE {wanted} ORDER BY originator_id, originator_version"
    )


class _OneStatement(SQLiteTransaction):
    """The library's read transaction without its BEGIN: one SELECT is a consistent read on its own
    (SQLite's autocommit), and BEGIN and ROLLBACK were two statements more per command. Its exit
    maps SQLite's errors to the library's, as for every other read; its rollback is a no-op."""

    def __enter__(self) -> SQLiteCursor:
        return self.connection.cursor()
