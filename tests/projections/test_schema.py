"""A table defined once (projections/schema.py) is created and round-trips values on both databases."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime
from uuid import uuid4

from nm_workflow.application.store import EventStore
from projections.database import Database
from projections.schema import Index, Table, col, insert_many
from projections.sql import POSTGRES, SQLITE  # (registers the NULL adapter)

SAMPLE = Table(
    "schema_sample",
    (
        col("id", "uuid"),
        col("label", "text"),
        col("count", "bigint"),
        col("ratio", "real", null=True),
        col("flag", "bool"),
        col("at", "time"),
        col("day", "date", null=True),
        col("extra", "json"),
    ),
    primary_key=("id",),
    indexes=(Index("label", ("label", "at")),),
)


def test_ddl_is_derived_for_each_dialect() -> None:
    sqlite, postgres = SAMPLE.ddl(SQLITE), SAMPLE.ddl(POSTGRES)
    assert "    at TEXT NOT NULL" in sqlite[0]
    assert "    at timestamptz NOT NULL" in postgres[0]
    assert "    ratio double precision," in postgres[0]
    assert "    extra jsonb NOT NULL" in postgres[0]
    assert sqlite[1] == "CREATE INDEX IF NOT EXISTS {schema_sample}_label ON {schema_sample} (label, at)"


def test_values_round_trip(store: EventStore) -> None:
    db = Database(store)
    tables = {"schema_sample": "schema_sample"}
    row = {
        "id": uuid4(),
        "label": "最佳\u200b 'quoted'",
        "count": 10**15,
        "ratio": None,
        "flag": True,
        "at": datetime(2026, 9, 30, 15, 30, tzinfo=UTC),
        "day": date(2026, 9, 30),
        "extra": {"中文": [1, 2]},
    }
    with db.write(tables) as tx:
        for statement in SAMPLE.ddl(db.dialect):
            tx.execute(statement)
        names = SAMPLE.column_names
        values = ", ".join(":" + n for n in names)
        tx.execute(
            f"INSERT INTO {{schema_sample}} ({', '.join(names)}) VALUES ({values})",
            {**row, "extra": db.dialect.json(row["extra"])},
        )
    with db.read(tables) as tx:
        stored = tx.one("SELECT * FROM {schema_sample}")
    assert stored is not None
    assert SAMPLE.decode(db.dialect, stored) == row
    # A row of some columns only (a read selecting its own): those decoded, the rest not made up.
    partial = {"label": stored["label"], "at": stored["at"], "extra": stored["extra"], "total": 3}
    assert SAMPLE.decode(db.dialect, partial) == {
        "label": row["label"], "at": row["at"], "extra": row["extra"], "total": 3
    }  # fmt: skip


def test_a_tables_insert_statement_is_made_once_per_dialect_name_and_kind(store: EventStore) -> None:
    """A batch writes the same tables every time: their statements' text is not made again."""
    db = Database(store)
    table = Table("schema_made", (col("id", "uuid"), col("n", "int")), primary_key=("id",))
    tables = {"schema_made": "schema_made"}
    with db.write(tables) as tx:
        for statement in table.ddl(db.dialect):
            tx.execute(statement)
        insert_many(tx, table, [{"id": uuid4(), "n": 1}])
        made = dict(table.inserts)
        insert_many(tx, table, [{"id": uuid4(), "n": 2}])
        insert_many(tx, table, [{"id": uuid4(), "n": 3}], upsert=True)
    assert list(made) == [(db.dialect.name, "schema_made", False)]
    assert (
        table.inserts[(db.dialect.name, "schema_made", False)]
        is made[(db.dialect.name, "schema_made", False)]
    )
    assert (
        "ON CONFLICT (id) DO UPDATE SET n = excluded.n"
        in table.inserts[(db.dialect.name, "schema_made", True)]
    )
    with db.read(tables) as tx:
        assert [r["n"] for r in tx.all("SELECT n FROM {schema_made} ORDER BY n")] == [1, 2, 3]


def test_a_null_is_bound_by_an_adapter_and_stored_as_null() -> None:
    """sqlite3 offers None to its adapters; without one it looks for `__adapt__` and `__conform__`
    first, raising (and dropping) an AttributeError each time: the projections register one."""
    assert sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)](None) is None
    with closing(sqlite3.connect(":memory:")) as connection:
        assert connection.execute("SELECT ? IS NULL, typeof(?)", (None, None)).fetchone() == (1, "null")
