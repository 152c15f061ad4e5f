"""The hash chain on PostgreSQL: the links written by the events' own INSERT (ADR 0031, 0036, 0047).

The chain's table and its rules are event_chain.py's; here the statements PostgreSQL runs: the
save's INSERT that also inserts each new event's link, its record hash computed by the server,
and the backfill of a log stored before the chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from nm_workflow.application.event_chain import (
    BACKFILL_PAGE,
    CHAIN_TABLE,
    COLUMNS,
    EXISTS,
    SELECT_LINKS,
    as_uuid,
    chain_ddl,
    leaves,
    link_of,
)
from nm_workflow.application.postgres_arrays import id_bytes
from nm_workflow.domain.audit_record import ChainLink, StoredRecord

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
# the same on every row), each record extends it. `{chain}` is the aggregate, `{step}` its step. The
# step is PL/pgSQL, which keeps its expression's plan for the session: a SQL-language step is parsed
# and planned again for every statement that calls it: 10-17 µs more per save of several events.
_PG_CHAIN_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION {step}(state bytea, head bytea, record bytea) RETURNS bytea LANGUAGE plpgsql"
    " IMMUTABLE PARALLEL SAFE AS 'BEGIN RETURN sha256(coalesce(state, head) || record); END'",
    "CREATE OR REPLACE AGGREGATE {chain}(bytea, bytea) (SFUNC = {step}, STYPE = bytea)",
)
# The backfill's: positions and record hashes (computed in Python) given as two arrays.
_PG_LINKS = f"""
WITH
  new AS (SELECT * FROM unnest(%s::bigint[], %s::bytea[]) WITH ORDINALITY AS n(position, record_hash, n)),
{_PG_CHAIN}
INSERT INTO {{table}} ({COLUMNS}) SELECT {COLUMNS} FROM links
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
  chained AS (INSERT INTO {{table}} ({COLUMNS}) SELECT {COLUMNS} FROM links)
SELECT notification_id, originator_id, originator_version FROM inserted
"""  # noqa: S608
_ONE = {"n": "1", "fold": _FOLD_ONE}
_MANY = {"n": "row_number() OVER (ORDER BY notification_id)", "fold": _FOLD_MANY}


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
        ddl = SQL(chain_ddl("bigint", "bytea", "octet_length")).format(table=self.chain_table)
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
            curs.execute(SQL(EXISTS).format(table=self.chain_table))
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
                StoredRecord(r["notification_id"], as_uuid(r["originator_id"]), r["originator_version"],
                             r["topic"], bytes(r["state"]))
                for r in rows
            ]  # fmt: skip
            curs.execute(self.insert_links_statement, leaves(page))
            after = page[-1].position

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[Any], stored_events: Sequence[StoredEvent], **_: Any
    ) -> Sequence[int] | None:
        """The ids of the save's rows (notification_id, originator_id, originator_version), read
        as tuples (`OneRoundTripSave.insert_events`): a dict per row cost the save's client more;
        the originator ids as their 16 bytes (postgres_arrays.register)."""
        returned = {(originator_id, version): position for position, originator_id, version in curs}
        if len(returned) != len(stored_events):
            raise ProgrammingError(f"Got {len(returned)} notification ids for {len(stored_events)} events.")
        return [returned[(id_bytes(e.originator_id), e.originator_version)] for e in stored_events]

    def select_chain(self, after: int, limit: int) -> list[ChainLink]:
        return self._select(SQL("WHERE position > %s ORDER BY position LIMIT %s"), (after, limit))

    def chain_link_at(self, leaf_index: int) -> ChainLink | None:
        return next(iter(self._select(SQL("WHERE leaf_index = %s"), (leaf_index,))), None)

    def chain_head(self) -> ChainLink | None:
        return next(iter(self._select(SQL("ORDER BY leaf_index DESC LIMIT 1"), ())), None)

    def _select(self, where: SQL, params: tuple[int, ...]) -> list[ChainLink]:
        statement = SQL(SELECT_LINKS).format(table=self.chain_table) + where
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [link_of(row) for row in curs.fetchall()]
