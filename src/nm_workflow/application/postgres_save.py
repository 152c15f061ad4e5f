"""The PostgreSQL save in one round trip (ADR 0036).

The library's `PostgresApplicationRecorder.insert_events` takes four round trips: BEGIN; the
pipeline of SET LOCAL lock_timeout, LOCK TABLE, NOTIFY and the INSERT, then a sync so that a
unique violation surfaces before the commit; COMMIT; a sync. Here all of it is one pipeline with
one sync at the end:

    BEGIN; SET LOCAL lock_timeout; LOCK TABLE ... IN EXCLUSIVE MODE; NOTIFY;
    INSERT ... RETURNING (with the hash chain's links, event_chain.py); COMMIT; sync

The server runs the statements in order and stops at the first error: a unique violation (a
concurrent writer of the same aggregate version), a lock wait over lock_timeout or anything else
skips the rest up to the sync, COMMIT included, so nothing of the transaction is kept. The error
reaches the caller as the library's (IntegrityError for the violation, so that group commit
bisects the culprit out); the failed transaction is rolled back before the connection goes back to
the pool. The returned notification ids are read from the INSERT's own rows (by aggregate id and
version), after the commit. The table lock keeps its purpose (ids in commit order): the INSERT
takes its ids under it, and the lock is released by the COMMIT that follows in the same pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from typing import Any, NamedTuple

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Connection
from psycopg.abc import Query
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composable, Identifier


class _Statements(NamedTuple):
    """The save's statements, rendered to bytes once per recorder: composing them again for every
    save (quoting identifiers, encoding) was a tenth of the writers' interpreter time."""

    lock: tuple[bytes, ...]  # SET LOCAL lock_timeout, LOCK TABLE, NOTIFY
    insert: bytes


class OneRoundTripSave(PostgresApplicationRecorder):
    """Mixed into the service's PostgreSQL application recorder before the library's own."""

    _statements: _Statements | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The events as four arrays in binary rather than the library's one array of a composite
        # type: psycopg dumps composites in Python, field by field, as text (the states in hex),
        # which took six times as long for a batch of 8 events (docs/performance.md).
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::{id}[], %b::bigint[], %b::text[], %b::bytea[])"
            " RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id=Identifier(self.datastore.originator_id_type),
        )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Insert `stored_events` in one transaction; their notification ids, in their order.

        Raises the library's IntegrityError when an (aggregate id, version) is taken,
        OperationalError on a lock wait over lock_timeout or a lost connection (then nothing of
        this call was committed, unless the connection broke after the server received COMMIT,
        which no client can tell, as with any commit).
        """
        if not stored_events:
            return []
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        # The statements but the INSERT return no rows: their cursor makes no dict rows (psycopg builds
        # a row maker per result).
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
            conn.cursor() as insert,
        ):
            statements = self._statements or self._render(conn)
            try:
                with conn.pipeline():  # leaving it sends the one sync and reads every result
                    curs.execute(b"BEGIN", prepare=True)
                    self._insert_events(insert, stored_events, **kwargs)  # the library's hook (dict rows)
                    for statement in statements.lock:
                        curs.execute(statement, prepare=True)
                    insert.execute(statements.insert, columns, prepare=True)
                    curs.execute(b"COMMIT", prepare=True)
            except Exception:
                _roll_back(conn)
                raise
            # Committed: from here on nothing may raise a connection error, which would be retried.
            return self._fetch_ids_after_insert_events(insert, stored_events, **kwargs)

    def _render(self, conn: Connection[DictRow]) -> _Statements:
        """The statements the library's `_lock_table` and `_notify_channel` send, and the INSERT."""
        notify = SQL("NOTIFY {0}").format(Identifier(self.channel_name))
        lock = tuple(_as_bytes(statement, conn) for statement in (*self.lock_table_statements, notify))
        self._statements = _Statements(lock, self.insert_events_statement.as_bytes(conn))
        return self._statements


def _as_bytes(statement: Query, conn: Connection[DictRow]) -> bytes:
    assert isinstance(statement, Composable)  # the library composes its lock statements
    return statement.as_bytes(conn)


def _roll_back(conn: Connection[DictRow]) -> None:
    """End the transaction the failed pipeline left open (a broken connection the pool drops)."""
    if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
        with suppress(psycopg.Error):
            conn.execute("ROLLBACK")
