"""The hash chain's table, written in the transaction that inserts the events (ADR 0031).

`event_chain` has one row per stored event:

    position     the event's notification id (primary key)
    leaf_index   0-based, dense, unique: the event's leaf number in the Merkle tree of the log
    record_hash  32 bytes: SHA-256(0x00 || canonical record) (domain/audit_record.py)
    chain_hash   32 bytes: SHA-256(previous chain_hash || record_hash); 32 zero bytes before the first

The mixins below extend the library's application recorders: inside the insert transaction,
after the events' rows, they read the chain's last link and insert a link per new event (on
PostgreSQL in the events' own INSERT statement, record hashes computed by the server, ADR 0036).
That read happens under the lock the insert
already holds (PostgreSQL: the library's EXCLUSIVE lock on the events table, held to commit;
SQLite: the database's one write lock), so concurrent writers, in threads or processes, extend
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

from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from nm_workflow.domain.audit_record import ChainLink, StoredRecord, extend, record_hash

CHAIN_TABLE = "event_chain"
BACKFILL_PAGE = 1000  # events read per query while chaining an existing log: bounded memory
_COLUMNS = "position, leaf_index, record_hash, chain_hash"
# Statements in both dialects; {table} is the chain table's name (never input).
_SELECT = f"SELECT {_COLUMNS} FROM {{table}} "  # noqa: S608
_HEAD = _SELECT + "ORDER BY leaf_index DESC LIMIT 1"
_EXISTS = "SELECT 1 FROM {table} LIMIT 1"
# PostgreSQL: the links of new records after the last link, in one statement, so that chaining costs
# no round trip of its own. `new` is a relation of (n, position, record_hash): the new records
# numbered from 1 in ascending position. {fold} computes the chain hashes with the server's sha256():
# for one record, one sha256 over the head's chain hash and the record's (`_FOLD_ONE`); for several, a
# running (window) aggregate over the records in order, which folds each record once (`_FOLD_MANY`; a
# recursive CTE joining `new` at each step scanned all of `new` per step: 4,000 events took 89 s).
_GENESIS = f"'\\x{'00' * 32}'::bytea"
_HEAD_CHAIN = f"coalesce((SELECT chain_hash FROM head), {_GENESIS})"  # noqa: S608
_FOLD_ONE = f"sha256({_HEAD_CHAIN} || new.record_hash)"
_FOLD_MANY = f"{{chain}}({_HEAD_CHAIN}, new.record_hash) OVER (ORDER BY new.n)"
_PG_CHAIN = """\
  head AS (SELECT leaf_index, chain_hash FROM {table} ORDER BY leaf_index DESC LIMIT 1),
  links AS (
    SELECT new.position, coalesce((SELECT leaf_index FROM head), -1) + new.n AS leaf_index, new.record_hash,
           {fold} AS chain_hash
    FROM new)"""
# The running chain hash: the state starts as the head's chain hash (the aggregate's first argument,
# the same on every row), each record extends it. `{chain}` is the aggregate, `{step}` its step.
_PG_CHAIN_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION {step}(state bytea, head bytea, record bytea) RETURNS bytea"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT sha256(coalesce(state, head) || record)'",
    "CREATE OR REPLACE AGGREGATE {chain}(bytea, bytea) (SFUNC = {step}, STYPE = bytea)",
)
# The backfill's: positions and record hashes (computed in Python) given as two arrays.
_PG_LINKS = f"""
WITH
  new AS (SELECT * FROM unnest(%s::bigint[], %s::bytea[]) WITH ORDINALITY AS n(position, record_hash, n)),
{_PG_CHAIN}
INSERT INTO {{table}} ({_COLUMNS}) SELECT {_COLUMNS} FROM links
"""  # noqa: S608
# The save's: the events' INSERT ({insert}, the library's, RETURNING the columns below) and their links
# in one statement. The record hash is the canonical encoding of domain/audit_record.py, computed by
# the server from the inserted row (positions are below 2**63 and lengths below 2**31, so the signed
# int8send/int4send give the same bytes as the unsigned encoding); returns each event's notification id.
# {n} numbers the records: `1` when the save has one event (`_ONE`), else by position (`_MANY`).
_PG_INSERT_CHAINED = f"""
WITH
  inserted AS ({{insert}}, topic, state),
  new AS (
    SELECT {{n}} AS n, notification_id AS position,
           sha256('\\x00'::bytea || int8send(notification_id) || uuid_send(originator_id::text::uuid)
                  || int8send(originator_version) || int4send(octet_length(convert_to(topic, 'UTF8')))
                  || convert_to(topic, 'UTF8') || int4send(octet_length(state)) || state) AS record_hash
    FROM inserted),
{_PG_CHAIN},
  chained AS (INSERT INTO {{table}} ({_COLUMNS}) SELECT {_COLUMNS} FROM links)
SELECT notification_id, originator_id, originator_version FROM inserted
"""  # noqa: S608
_ONE = {"n": "1", "fold": _FOLD_ONE}
_MANY = {"n": "row_number() OVER (ORDER BY notification_id)", "fold": _FOLD_MANY}


def _ddl(integer: str, blob: str, length: str) -> str:
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


def _link(row: Any) -> ChainLink:
    return ChainLink(
        int(row["position"]), int(row["leaf_index"]), bytes(row["record_hash"]), bytes(row["chain_hash"])
    )


def _records(positions: Sequence[int], events: Sequence[StoredEvent]) -> list[StoredRecord]:
    """The stored events as records, in ascending position."""
    records = [
        StoredRecord(position, _uuid(e.originator_id), e.originator_version, e.topic, e.state)
        for position, e in zip(positions, events, strict=True)
    ]
    return sorted(records, key=lambda record: record.position)


def _uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


def _leaves(records: Sequence[StoredRecord]) -> tuple[list[int], list[bytes]]:
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
        return [*statements, _ddl("INTEGER", "BLOB", "length").format(table=CHAIN_TABLE)]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)  # type: ignore[misc]
        c.execute(_EXISTS.format(table=CHAIN_TABLE))
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
        self._insert_links(c, extend(_link(head) if head else None, _records(positions, stored_events)))
        return positions  # type: ignore[no-any-return]

    @staticmethod
    def _insert_links(c: SQLiteCursor, links: Sequence[ChainLink]) -> None:
        c.executemany(f"INSERT INTO {CHAIN_TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?)", _rows(links))  # noqa: S608

    def select_chain(self, after: int, limit: int) -> list[ChainLink]:
        return self._select("WHERE position > ? ORDER BY position LIMIT ?", (after, limit))

    def chain_link_at(self, leaf_index: int) -> ChainLink | None:
        return next(iter(self._select("WHERE leaf_index = ?", (leaf_index,))), None)

    def chain_head(self) -> ChainLink | None:
        return next(iter(self._select("ORDER BY leaf_index DESC LIMIT 1", ())), None)

    def _select(self, where: str, params: tuple[int, ...]) -> list[ChainLink]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(_SELECT.format(table=CHAIN_TABLE) + where, params)
            return [_link(row) for row in c.fetchall()]


class ChainedSQLiteRecorder(SQLiteChain, SQLiteApplicationRecorder):
    """The service's SQLite application recorder (APPLICATION_RECORDER_TOPIC)."""


class PostgresChain:
    """Mixed into the library's PostgreSQL application recorder (application/postgres.py)."""

    datastore: PostgresDatastore
    events_table_name: str
    sql_create_statements: list[Composed]
    insert_events_statement: Composed
    insert_one_event_statement: Composed

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.datastore.enable_db_functions:
            # The library's insert function bypasses the statements the chain is written beside.
            raise ProgrammingError("The hash chain needs POSTGRES_ENABLE_DB_FUNCTIONS off.")
        self.chain_table = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(CHAIN_TABLE))
        ddl = SQL(_ddl("bigint", "bytea", "octet_length")).format(table=self.chain_table)
        schema = Identifier(self.datastore.schema)
        names = {
            "step": SQL("{}.{}").format(schema, Identifier(f"{CHAIN_TABLE}_step")),
            "chain": SQL("{}.{}").format(schema, Identifier(f"{CHAIN_TABLE}_hash")),
        }
        functions = [SQL(statement).format(**names) for statement in _PG_CHAIN_FUNCTIONS]
        self.sql_create_statements.extend([ddl, *functions])
        # Which id went to which event, exactly, rather than by the order of the returned rows;
        # the events' links are inserted by the same statement (one statement of the save's pipeline).
        insert = self.insert_events_statement + SQL(", originator_id, originator_version")

        def statement(template: str, n: str, fold: str) -> Composed:
            fold_sql = SQL(fold).format(chain=names["chain"])
            return SQL(template).format(insert=insert, table=self.chain_table, n=SQL(n), fold=fold_sql)

        self.insert_events_statement = statement(_PG_INSERT_CHAINED, **_MANY)
        self.insert_one_event_statement = statement(_PG_INSERT_CHAINED, **_ONE)
        self.insert_links_statement = statement(_PG_LINKS, **_MANY)

    def create_table(self) -> None:
        super().create_table()  # type: ignore[misc]
        with self.datastore.transaction(commit=True) as curs:
            # Writers of processes started earlier wait, so that no event escapes the backfill.
            curs.execute(
                SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(
                    Identifier(self.datastore.schema), Identifier(self.events_table_name)
                )
            )
            curs.execute(SQL(_EXISTS).format(table=self.chain_table))
            if curs.fetchone() is None:
                self._backfill(curs)

    def _backfill(self, curs: Cursor[DictRow]) -> None:
        after = 0
        select = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{}"
            " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        while True:
            curs.execute(select, (after, BACKFILL_PAGE))
            rows = curs.fetchall()
            if not rows:
                return
            page = [
                StoredRecord(r["notification_id"], _uuid(r["originator_id"]), r["originator_version"],
                             r["topic"], bytes(r["state"]))
                for r in rows
            ]  # fmt: skip
            curs.execute(self.insert_links_statement, _leaves(page))
            after = page[-1].position

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> Sequence[int] | None:
        returned = {(_uuid(r["originator_id"]), r["originator_version"]): r["notification_id"]
                    for r in curs.fetchall()}  # fmt: skip
        if len(returned) != len(stored_events):
            raise ProgrammingError(f"Got {len(returned)} notification ids for {len(stored_events)} events.")
        return [returned[(_uuid(e.originator_id), e.originator_version)] for e in stored_events]

    def select_chain(self, after: int, limit: int) -> list[ChainLink]:
        return self._select(SQL("WHERE position > %s ORDER BY position LIMIT %s"), (after, limit))

    def chain_link_at(self, leaf_index: int) -> ChainLink | None:
        return next(iter(self._select(SQL("WHERE leaf_index = %s"), (leaf_index,))), None)

    def chain_head(self) -> ChainLink | None:
        return next(iter(self._select(SQL("ORDER BY leaf_index DESC LIMIT 1"), ())), None)

    def _select(self, where: SQL, params: tuple[int, ...]) -> list[ChainLink]:
        statement = SQL(_SELECT).format(table=self.chain_table) + where
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [_link(row) for row in curs.fetchall()]
