"""The hash chain's table, written in the transaction that inserts the events (ADR 0031).

`event_chain` has one row per stored event:

    position     the event's notification id (primary key)
    leaf_index   0-based, dense, unique: the event's leaf number in the Merkle tree of the log
    record_hash  32 bytes: SHA-256(0x00 || canonical record) (domain/audit_record.py)
    chain_hash   32 bytes: SHA-256(previous chain_hash || record_hash); 32 zero bytes before the first

The mixins extend the library's application recorders (SQLite's below, PostgreSQL's in
event_chain_postgres.py): inside the insert transaction, after the events' rows, they read the
chain's last link and insert a link per new event (on PostgreSQL in the events' own INSERT
statement, record hashes computed by the server, ADR 0036).
That read happens under the lock the insert
already holds (PostgreSQL: the save's lock on the events table, held to commit, a mode that
conflicts with itself and with the library's EXCLUSIVE, postgres_save.py; SQLite: the
database's one write lock), so concurrent writers, in threads or processes, extend
one chain in position order. Any number of events per insert is chained (one command's events,
or a group commit's).

When the chain table is empty and the log is not (a store from before the chain), the first
start chains every stored event under the schema set-up (`backfill`): once the chain has links,
an event without one is never chained afterwards, so that `audit verify` reports it as inserted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from nm_workflow.domain.audit_record import ChainLink, StoredRecord, extend, record_hash

CHAIN_TABLE = "event_chain"
BACKFILL_PAGE = 1000  # events read per query while chaining an existing log: bounded memory
COLUMNS = "position, leaf_index, record_hash, chain_hash"
# Statements in both dialects; {table} is the chain table's name (never input).
SELECT_LINKS = f"SELECT {COLUMNS} FROM {{table}} "  # noqa: S608
_HEAD = SELECT_LINKS + "ORDER BY leaf_index DESC LIMIT 1"
EXISTS = "SELECT 1 FROM {table} LIMIT 1"


def chain_ddl(integer: str, blob: str, length: str) -> str:
    """The chain table's CREATE statement in one dialect (the columns are defined once, here)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {{table}} (position {integer} PRIMARY KEY,"
        f" leaf_index {integer} NOT NULL UNIQUE,"
        f" record_hash {blob} NOT NULL CHECK ({length}(record_hash) = 32),"
        f" chain_hash {blob} NOT NULL CHECK ({length}(chain_hash) = 32))"
    )


@runtime_checkable
class ChainedRecorder(Protocol):
    """What the audit commands read of a recorder with the chain."""

    def select_chain(self, after: int, limit: int) -> list[ChainLink]:
        """Up to `limit` links of positions above `after`, in position (= leaf) order."""

    def chain_link_at(self, leaf_index: int) -> ChainLink | None:
        """The link of leaf `leaf_index`, if there is one."""

    def chain_head(self) -> ChainLink | None:
        """The last link (the highest leaf), None while the chain is empty."""


def link_of(row: Any) -> ChainLink:
    return ChainLink(
        int(row["position"]), int(row["leaf_index"]), bytes(row["record_hash"]), bytes(row["chain_hash"])
    )


def _records(positions: Sequence[int], events: Sequence[StoredEvent]) -> list[StoredRecord]:
    """The stored events as records, in ascending position."""
    records = [
        StoredRecord(position, as_uuid(e.originator_id), e.originator_version, e.topic, e.state)
        for position, e in zip(positions, events, strict=True)
    ]
    return sorted(records, key=lambda record: record.position)


def as_uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


def leaves(records: Sequence[StoredRecord]) -> tuple[list[int], list[bytes]]:
    """The positions and record hashes of `records` (in ascending position), as two arrays."""
    return [record.position for record in records], [record_hash(record) for record in records]


def _rows(links: Sequence[ChainLink]) -> list[tuple[int, int, bytes, bytes]]:
    return [(link.position, link.leaf_index, link.record_hash, link.chain_hash) for link in links]


class SQLiteChain:
    """Mixed into the library's SQLite application recorder."""

    datastore: SQLiteDatastore
    events_table_name: str

    def construct_create_table_statements(self) -> list[str]:
        statements: list[str] = super().construct_create_table_statements()  # type: ignore[misc]
        return [*statements, chain_ddl("INTEGER", "BLOB", "length").format(table=CHAIN_TABLE)]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)  # type: ignore[misc]
        c.execute(EXISTS.format(table=CHAIN_TABLE))
        if c.fetchone() is None:
            self._backfill(c)

    def _backfill(self, c: SQLiteCursor) -> None:
        previous: ChainLink | None = None
        for page in self._pages(c):
            links = extend(previous, page)
            self._insert_links(c, links)
            previous = links[-1]

    def _pages(self, c: SQLiteCursor) -> Iterator[list[StoredRecord]]:
        after = 0
        while True:
            c.execute(
                "SELECT rowid, originator_id, originator_version, topic, state"  # noqa: S608
                f" FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, BACKFILL_PAGE),
            )
            rows = c.fetchall()
            if not rows:
                return
            yield [StoredRecord(r[0], UUID(r[1]), r[2], r[3], bytes(r[4])) for r in rows]
            after = rows[-1][0]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)  # type: ignore[misc]
        # The insert above took the database's write lock: no other writer can chain meanwhile.
        c.execute(_HEAD.format(table=CHAIN_TABLE))
        head = c.fetchone()
        self._insert_links(c, extend(link_of(head) if head else None, _records(positions, stored_events)))
        return positions  # type: ignore[no-any-return]

    @staticmethod
    def _insert_links(c: SQLiteCursor, links: Sequence[ChainLink]) -> None:
        c.executemany(f"INSERT INTO {CHAIN_TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?)", _rows(links))  # noqa: S608

    def select_chain(self, after: int, limit: int) -> list[ChainLink]:
        return self._select("WHERE position > ? ORDER BY position LIMIT ?", (after, limit))

    def chain_link_at(self, leaf_index: int) -> ChainLink | None:
        return next(iter(self._select("WHERE leaf_index = ?", (leaf_index,))), None)

    def chain_head(self) -> ChainLink | None:
        return next(iter(self._select("ORDER BY leaf_index DESC LIMIT 1", ())), None)

    def _select(self, where: str, params: tuple[int, ...]) -> list[ChainLink]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(SELECT_LINKS.format(table=CHAIN_TABLE) + where, params)
            return [link_of(row) for row in c.fetchall()]


class ChainedSQLiteRecorder(SQLiteChain, SQLiteApplicationRecorder):
    """The service's SQLite application recorder (APPLICATION_RECORDER_TOPIC)."""
