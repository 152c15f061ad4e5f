"""The log exported for offline verification: each stored event with its chain link (docs/audit.md).

A record holds what its record hash is computed from (position, aggregate id, version, topic and
the stored state bytes, ADR 0031's canonical encoding) and its link: leaf index, record hash, the
previous link's chain hash and its own. Read in pages in position order: bounded memory, however
long the log. Every stored event is exported, chained or not (an event without a link has no
hashes: `audit verify` calls it inserted), so that the export shows the log as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from nm_workflow.application.audit_tree import ChainTable
from nm_workflow.application.store import PAGE_SIZE, EventStore
from nm_workflow.domain.audit_record import GENESIS


@dataclass(frozen=True)
class ExportFilter:
    """Which events to export: of one aggregate, recorded in [start, end); None: no bound."""

    aggregate_id: UUID | None = None
    start: datetime | None = None
    end: datetime | None = None

    def takes(self, recorded_at: datetime) -> bool:
        after_start = self.start is None or recorded_at >= self.start
        return after_start and (self.end is None or recorded_at < self.end)


@dataclass(frozen=True)
class ExportRecord:
    position: int
    aggregate_id: UUID
    version: int
    topic: str
    state: bytes
    recorded_at: datetime
    """The event's timestamp, read from `state` (not hashed separately: it is inside the state)."""
    leaf_index: int | None
    record_hash: bytes | None
    previous_chain_hash: bytes | None
    """The chain hash of leaf `leaf_index - 1` (32 zero bytes for leaf 0)."""
    chain_hash: bytes | None


def recorded_at(state: bytes) -> datetime:
    """The timestamp the eventsourcing library stores in an event's state (JSON, transcoded datetime)."""
    stamp: Any = json.loads(state)["timestamp"]
    return datetime.fromisoformat(stamp["_data_"] if isinstance(stamp, dict) else stamp)


class AuditExport:
    """Streams the log's records with their links, optionally filtered."""

    def __init__(self, store: EventStore) -> None:
        recorder: Any = store.recorder
        self._table = ChainTable(store)
        self._postgres = self._table.postgres
        events = recorder.events_table_name
        if self._postgres:
            self._events = f"{recorder.datastore.schema}.{events}"
            self._position = "e.notification_id"
        else:
            self._events, self._position = events, "e.rowid"

    def records(self, wanted: ExportFilter = ExportFilter()) -> Iterator[ExportRecord]:
        """Every stored event `wanted` takes, in position order, read `PAGE_SIZE` at a time."""
        after = 0
        while True:
            page = self._page(after, wanted.aggregate_id)
            for row in page:
                record = self._record(row)
                if wanted.takes(record.recorded_at):
                    yield record
            if len(page) < PAGE_SIZE:
                return
            after = int(page[-1]["position"])

    def _page(self, after: int, aggregate_id: UUID | None) -> list[Any]:
        only: tuple[Any, ...] = ()
        where = f"{self._position} > ?"
        if aggregate_id is not None:
            where += " AND e.originator_id = ?"
            only = (aggregate_id if self._postgres else aggregate_id.hex,)
        return self._table.rows(
            f"SELECT {self._position} AS position, e.originator_id, e.originator_version, e.topic,"  # noqa: S608
            " e.state, c.leaf_index, c.record_hash, c.chain_hash, p.chain_hash AS previous_chain_hash"
            f" FROM {self._events} e LEFT JOIN {{chain}} c ON c.position = {self._position}"
            " LEFT JOIN {chain} p ON p.leaf_index = c.leaf_index - 1"
            f" WHERE {where} ORDER BY {self._position} LIMIT ?",
            after,
            *only,
            PAGE_SIZE,
        )

    @staticmethod
    def _record(row: Any) -> ExportRecord:
        state = bytes(row["state"])
        leaf = None if row["leaf_index"] is None else int(row["leaf_index"])
        previous = row["previous_chain_hash"]
        return ExportRecord(
            position=int(row["position"]),
            aggregate_id=_uuid(row["originator_id"]),
            version=int(row["originator_version"]),
            topic=row["topic"],
            state=state,
            recorded_at=recorded_at(state),
            leaf_index=leaf,
            record_hash=_bytes(row["record_hash"]),
            previous_chain_hash=GENESIS if leaf == 0 else _bytes(previous),
            chain_hash=_bytes(row["chain_hash"]),
        )


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)  # PostgreSQL: uuid; SQLite: hex text


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)
