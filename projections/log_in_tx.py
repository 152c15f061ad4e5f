"""The store's notification log read through a projection transaction's own connection.

A rebuild reads the whole log while it writes its shadow tables, and its swap reads the
last events while it holds the live tracking row's lock. Reading through the store's
pool there could wait behind a writer that waits for that lock, so a rebuild used to
open an event store of its own: a pool, its connections, the type look-ups and the
schema checks, 50-90 ms on PostgreSQL before the first event (docs/performance-history.md,
"Rebuilds"). Reading with the transaction's own cursor needs no further connection.

The statements are the library's (`select_notifications`, `max_notification_id`),
and the events are decoded by the store's own mapper, so a `Recorded` read here is the
one `EventSource.read` returns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Composed, Identifier

from nm_workflow.application.ids import parsed_id
from nm_workflow.application.store import EventStore
from projections.base import Recorded
from projections.sql import Tx

_COLUMNS = "originator_id, originator_version, topic, state"


class LogInTx:
    """Head and events of `store`'s log, read with a `Tx` of the same database."""

    def __init__(self, store: EventStore) -> None:
        recorder = store.recorder
        self._to_event = store.mapper.to_domain_event
        self._uuid: Any = None  # SQLite's: the aggregate's id is stored as text
        self._topics_as_json = False  # SQLite's: the topics as one JSON array
        self._binary: dict[str, bool] = {}  # PostgreSQL's: the rows in binary (`fetch`)
        self._selects: dict[bool, str | Composed]  # by whether topics are chosen
        if isinstance(recorder, PostgresApplicationRecorder):
            table = SQL("{}.{}").format(
                Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
            )
            self._head: str | Composed = SQL("SELECT MAX(notification_id) AS head FROM {}").format(table)
            self._selects = {
                chosen: SQL(
                    f"SELECT notification_id AS id, {_COLUMNS} FROM {{}} "  # noqa: S608
                    "WHERE notification_id > %(after)s AND notification_id <= %(upto)s"
                    f"{' AND topic = ANY(%(topics)s)' if chosen else ''} "
                    "ORDER BY notification_id LIMIT %(limit)s"
                ).format(table)
                for chosen in (False, True)
            }
            self._binary = {"binary": True}
            return
        assert isinstance(recorder, SQLiteApplicationRecorder)
        name = recorder.events_table_name
        # The recorder's `convert_originator_id`, each id parsed once per text (ids.parsed_id).
        self._uuid = parsed_id if recorder.datastore.originator_id_type == "uuid" else str
        self._topics_as_json = True
        self._head = f"SELECT MAX(rowid) AS head FROM {name}"  # noqa: S608
        self._selects = {
            chosen: f"SELECT rowid AS id, {_COLUMNS} FROM {name} WHERE rowid > :after AND rowid <= :upto"  # noqa: S608
            # One parameter whatever the number of topics: one statement text, no limit of values.
            f"{' AND topic IN (SELECT value FROM json_each(:topics))' if chosen else ''} "
            "ORDER BY rowid LIMIT :limit"
            for chosen in (False, True)
        }

    def head(self, tx: Tx) -> int:
        """The highest position in the log, 0 when empty."""
        reader = tx.own_cursor().raw
        reader.execute(self._head)
        return int(reader.fetchone()["head"] or 0)

    def fetch(self, tx: Tx, after: int, upto: int, topics: Sequence[str], limit: int) -> list[Any]:
        """The stored rows with positions in (after, upto], of `topics` (all when empty), at most
        `limit`, fetched whole: the connection is free again after. `decoded` makes them events.

        On PostgreSQL in binary: each event's state comes as its bytes, where as text it came
        hex-encoded by the server and decoded by the client (twice its size on the wire), and the
        aggregate's id as its 16 bytes; the values are the same (ADR 0060)."""
        return self.fetch_with(tx.own_cursor().raw, after, upto, topics, limit)

    def fetch_with(self, cursor: Any, after: int, upto: int, topics: Sequence[str], limit: int) -> list[Any]:
        """`fetch` with a cursor of the database's driver: a transaction's, or the store's own
        (`EventSource.read` on SQLite)."""
        params: dict[str, Any] = {"after": after, "upto": upto, "limit": limit}
        if topics:
            params["topics"] = json.dumps(list(topics)) if self._topics_as_json else list(topics)
        cursor.execute(self._selects[bool(topics)], params, **self._binary)
        return list(cursor.fetchall())

    def decoded(self, rows: Sequence[Any]) -> list[Recorded]:
        """The events of rows from `fetch`, in order."""
        uuid, to_event = self._uuid, self._to_event
        recorded = []
        for row in rows:
            stored = _Stored(
                uuid(row["originator_id"]) if uuid else row["originator_id"],
                row["originator_version"],
                row["topic"],
                bytes(row["state"]),
            )
            recorded.append(Recorded(row["id"], stored.topic, to_event(cast(StoredEvent, stored))))
        return recorded


class _Stored(NamedTuple):
    """What the store's mapper reads of a stored event (`Mapper.to_domain_event`: these four
    attributes), made for each event a rebuild decodes. The library's `Notification`, a frozen
    dataclass, cost 2.7 us to make (each field set through `object.__setattr__`), about a tenth
    of the decoding's own CPU; this, a tenth of that (ADR 0060)."""

    originator_id: Any
    originator_version: int
    topic: str
    state: bytes
