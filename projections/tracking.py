"""Tracking recorders of the projections: the library's, with one tracking table each.

Each projection owns a tracking table `<projection>_tracking` (the library's
single-row layout: `application_name`, `notification_id`) and creates it in
the same transaction as its own tables. A batch of events is applied in one
transaction together with `advance`, one conditional UPDATE that moves the
tracking row from where the batch started to where it ends, and only forward:
it locks the row (PostgreSQL re-checks the condition on a row another
transaction just changed; SQLite's write lock is already held by `BEGIN
IMMEDIATE`), so a second process running the same projection finds it moved,
writes nothing and rolls its batch back: no row is ever applied twice. One
statement, so one round trip per projection and batch.

A shared batch moves the trackings of all its projections with `advance_together`:
on PostgreSQL those UPDATEs as one statement (data-modifying CTEs, each row checked
by its own condition and answered for its own projection), sent, bound and answered
once instead of once per projection (each UPDATE still runs: ADR 0048); on SQLite one
statement each, run in-process with the least Python work per statement.

Each tracking row also holds a `generation` (from 1), which only a rebuild's swap changes
(`reset`, ADR 0063) and which `advance` answers with: a projection keeping rows in memory
from one batch to the next (projections/between.py) knows from it, in the same statement,
whether the tables it wrote are still there, or were replaced by a rebuild at the very
position its memory holds. A column of the row itself, not a row of its own: on PostgreSQL
an UPDATE that waited for the swap's lock on the row re-reads that row, not others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder
from psycopg.sql import SQL, Identifier, Literal

from nm_workflow.application.postgres import SerialisedSchema, bounded_retry
from projections.sql import POSTGRES, Tx

Generation = int | None
"""A tracking row's generation where `advance` moved it; None where the row was elsewhere."""
GENERATION_COLUMN = "generation bigint NOT NULL DEFAULT 1"


class _Advancing:
    """What the projections add to the library's tracking recorders."""

    tracking_table_name: str

    if TYPE_CHECKING:  # provided by the library's recorders

        def max_tracking_id(self, application_name: str) -> int | None: ...
        def insert_tracking(self, tracking: Tracking) -> None: ...

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(application_name) or 0

    def start(self, application_name: str) -> None:
        """Make sure the tracking row exists (at 0), so there is always a row to lock."""
        if self.max_tracking_id(application_name) is None:
            with suppress(IntegrityError):  # another process made it first
                self.insert_tracking(Tracking(application_name, 0))

    def advance(self, tx: Tx, application_name: str, expected: int, target: int) -> Generation:
        """In `tx`: move the tracking from `expected` to `target` (> `expected`); its generation
        (>= 1), or None if it is elsewhere, and then nothing is written."""
        moved = tx.one(
            _advance_statement(self.tracking_table_name, ""),
            {"application_name": application_name, "expected": expected, "target": target},
        )
        return None if moved is None else int(moved["generation"])

    def reset(self, tx: Tx, application_name: str, target: int) -> None:
        """In `tx`, already holding the row: set the position, in a new generation (a rebuild's
        swap: the tables are others from now on)."""
        tx.execute(
            f"UPDATE {self.tracking_table_name} SET notification_id = :target, "  # noqa: S608
            "generation = generation + 1 WHERE application_name = :application_name",
            {"target": target, "application_name": application_name},
        )

    def lock(self, tx: Tx, application_name: str) -> int:
        row = tx.one(self._lock_statement(), {"application_name": application_name})
        return 0 if row is None else int(row["notification_id"])

    def _lock_statement(self) -> str:
        return (
            f"SELECT notification_id FROM {self.tracking_table_name} "  # noqa: S608
            "WHERE application_name = :application_name"
        )


def advance_together(
    tx: Tx, application_name: str, moves: Sequence[tuple[_Advancing, int]], target: int
) -> Callable[[], list[Generation]]:
    """In `tx`: move each (recorder, expected position) of `moves` to `target`, as `advance` each;
    the answers (in the order of `moves`: the row's generation where it moved, None where the
    tracking was elsewhere and nothing of it was written) when the returned function is called,
    as often as wanted. The rows are taken in the order of `moves` (ADR 0043: a projection's
    tracking row before its tables)."""
    if not moves:
        return lambda: []
    if tx.dialect is not POSTGRES:  # in-process, each answered at once: straight through sqlite3
        answers: list[Generation] = []
        for recorder, expected in moves:
            given = {"application_name": application_name, "expected": expected, "target": target}
            tx.raw.execute(_advance_statement(recorder.tracking_table_name, ""), given)
            moved = tx.raw.fetchall()
            answers.append(moved[0][1] if moved else None)
        return lambda: answers
    params: dict[str, object] = {"application_name": application_name, "target": target}
    params |= {f"expected{n}": expected for n, (_, expected) in enumerate(moves)}
    rows = tx.all_later(_advance_together_statement(tuple(r.tracking_table_name for r, _ in moves)), params)

    @cache  # the rows can be fetched once
    def answer() -> list[Generation]:
        moved = {row["moved"]: int(row["generation"]) for row in rows()}
        return [moved.get(n) for n in range(len(moves))]

    return answer


@lru_cache(maxsize=256)
def _advance_statement(table: str, suffix: str) -> str:
    """The conditional UPDATE of `table`'s row, its expected position the parameter
    `expected<suffix>`, returning the notification id and the generation where it moved."""
    return (
        f"UPDATE {table} SET notification_id = :target "  # noqa: S608
        f"WHERE application_name = :application_name AND notification_id = :expected{suffix} "
        "AND notification_id < :target RETURNING notification_id, generation"
    )


@lru_cache(maxsize=64)
def _advance_together_statement(tables: tuple[str, ...]) -> str:
    """One statement of `_advance_statement`s, answering the index of each that moved. PostgreSQL
    runs every data-modifying CTE exactly once, to completion, whether or not the rest reads it;
    the UNION ALL reads them in order (its Append reads each to its end before the next), so the
    rows are locked in the order of `tables`."""
    ctes = ", ".join(f"t{n} AS ({_advance_statement(table, str(n))})" for n, table in enumerate(tables))
    reads = " UNION ALL ".join(f"SELECT {n} AS moved, generation FROM t{n}" for n in range(len(tables)))  # noqa: S608
    return f"WITH {ctes} {reads}"


class SQLiteProjectionRecorder(SQLiteTrackingRecorder, _Advancing):
    def __init__(
        self,
        datastore: SQLiteDatastore,
        *,
        tracking_table_name: str = "projection_tracking",
        table_statements: Sequence[str] = (),
    ) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("Projections need the library's single-row tracking.")
        self.tracking_table_name = tracking_table_name
        self.table_statements = list(table_statements)
        super().__init__(datastore)
        # The library names its SQLite tracking table "tracking"; each projection has its own.
        table = tracking_table_name
        self.insert_tracking_statement = (
            f"INSERT INTO {table} (application_name, notification_id) "  # noqa: S608
            "VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
            f"WHERE {table}.notification_id < :notification_id RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {table} WHERE application_name=?"  # noqa: S608
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.tracking_table_name} ("
            f"application_name TEXT, notification_id INTEGER, {GENERATION_COLUMN}, "
            "PRIMARY KEY (application_name)) WITHOUT ROWID",
            *self.table_statements,
        ]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        c.execute("SELECT 1 FROM pragma_table_info(?) WHERE name = 'generation'", (self.tracking_table_name,))
        if not c.fetchall():  # made by an earlier release
            c.execute(f"ALTER TABLE {self.tracking_table_name} ADD COLUMN {GENERATION_COLUMN}")


class PostgresProjectionRecorder(SerialisedSchema, PostgresTrackingRecorder, _Advancing):
    insert_tracking = bounded_retry(PostgresTrackingRecorder.insert_tracking)
    max_tracking_id = bounded_retry(PostgresTrackingRecorder.max_tracking_id)
    has_tracking_id = bounded_retry(PostgresTrackingRecorder.has_tracking_id)

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "projection_tracking",
        table_statements: Sequence[str] = (),
    ) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("Projections need the library's single-row tracking.")
        super().__init__(datastore, tracking_table_name=tracking_table_name)
        # The generation column, added to a table an earlier release made: only then, as ALTER TABLE
        # locks the table even when the column is there already.
        self.sql_create_statements.append(
            SQL(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM information_schema.columns WHERE "
                "table_schema = {schema} AND table_name = {name} AND column_name = 'generation') "
                "THEN ALTER TABLE {table} ADD COLUMN {column}; END IF; END $$"
            ).format(
                schema=Literal(datastore.schema),
                name=Literal(tracking_table_name),
                table=Identifier(datastore.schema, tracking_table_name),
                column=SQL(GENERATION_COLUMN),
            )
        )
        self.sql_create_statements.extend(SQL(statement).format() for statement in table_statements)

    def _lock_statement(self) -> str:
        return super()._lock_statement() + " FOR UPDATE"


def open_recorder(
    datastore: SQLiteDatastore | PostgresDatastore, tracking_table: str, table_statements: Sequence[str]
) -> SQLiteProjectionRecorder | PostgresProjectionRecorder:
    """A projection's recorder, its tables created (idempotent)."""
    recorder: SQLiteProjectionRecorder | PostgresProjectionRecorder
    if isinstance(datastore, PostgresDatastore):
        recorder = PostgresProjectionRecorder(
            datastore, tracking_table_name=tracking_table, table_statements=table_statements
        )
    else:
        recorder = SQLiteProjectionRecorder(
            datastore, tracking_table_name=tracking_table, table_statements=table_statements
        )
    recorder.create_table()
    return recorder
