"""The notification log's reads on PostgreSQL, each planned once per pooled connection.

The library's `select_notifications` composes one of sixteen statement texts by its arguments
and runs it prepared; PostgreSQL kept it on custom plans, made again at every call (a custom
plan for its `LIMIT` looks cheaper than the generic plan's guess of a tenth of the rows): 70-120
µs of planning for every batch of the projections, every poll of the webhooks' deliveries and
every page of the event feed. Its `max_notification_id` is sent unprepared, so psycopg prepares
it only from a connection's sixth use, and each use before is planned (60-100 µs).

Here the same rows come from two statement texts (with and without topics): a start included
is the one before it excluded, no start is the lowest bigint, no stop the highest, so every
read is a range of the log's unique index in its order, stopped by its limit, whatever the
values. It is run on its generic plan (generic_plans.py), and the head's read is prepared from
the first use. See docs/performance-history.md, "Statements planned at every call".
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

from nm_workflow.application.generic_plans import generic_plan_rows

LOWEST, HIGHEST = -(2**63), 2**63 - 1
"""PostgreSQL's bigint bounds: the log's notification ids lie within."""


class GenericPlanLogReads:
    """Mixed into the library's PostgreSQL application recorder: its two log reads, planned once."""

    datastore: PostgresDatastore
    events_table_name: str
    max_notification_id_statement: Any

    @cached_property
    def _log_reads(self) -> dict[bool, bytes]:
        """The log's read without (False) and with (True) a choice of topics, composed once."""
        table = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        return {
            topics: SQL(
                "SELECT * FROM {} WHERE notification_id > %s AND notification_id <= %s"  # noqa: S608
                f"{' AND topic = ANY(%s)' if topics else ''} ORDER BY notification_id LIMIT %s"
            )
            .format(table)
            .as_bytes(None)
            for topics in (False, True)
        }

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """The library's: notifications from `start` (after it unless `inclusive_of_start`; from
        the first when None) up to `stop` (inclusive; the last when None), of `topics` (all when
        empty), at most `limit`, in log order."""
        after = LOWEST if start is None else start - 1 if inclusive_of_start else start
        params: list[Any] = [after, HIGHEST if stop is None else stop]
        if topics:
            params.append(list(topics))
        params.append(limit)
        with self.datastore.get_connection() as connection:
            rows = generic_plan_rows(connection, self._log_reads[bool(topics)], params)
        return [
            Notification(
                id=row["notification_id"],
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            for row in rows
        ]

    def max_notification_id(self) -> int | None:
        """The library's: the highest notification id, None when the log is empty."""
        with self.datastore.get_connection() as connection:
            row = connection.execute(self.max_notification_id_statement, prepare=True).fetchone()
        assert row is not None  # an aggregate answers one row
        return row["max"]  # type: ignore[no-any-return]
