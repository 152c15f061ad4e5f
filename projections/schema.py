"""Projection tables defined once, rendered for SQLite and PostgreSQL.

A `Table` lists its columns with portable types; `Table.ddl(dialect)` writes
the CREATE statements of either database and `Table.decode(dialect, row)`
turns a row of either database into plain Python values. Table names are
`{placeholders}`, as in every statement of the read side, so the same
definition serves the live tables and the shadow tables of a rebuild.

Portable types and what each database stores:

| type   | SQLite                                   | PostgreSQL         |
|--------|------------------------------------------|--------------------|
| text   | TEXT                                     | text               |
| uuid   | TEXT                                     | uuid               |
| int    | INTEGER                                  | integer            |
| bigint | INTEGER                                  | bigint             |
| real   | REAL                                     | double precision   |
| bool   | INTEGER (0/1)                            | boolean            |
| time   | TEXT, UTC `YYYY-MM-DD HH:MM:SS.ffffff`   | timestamptz        |
| date   | TEXT, ISO `YYYY-MM-DD`                   | date               |
| json   | TEXT (JSON)                              | jsonb              |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from projections.bulk import BY_COLUMN, column_values, copy_rows, row_values
from projections.sql import POSTGRES, Dialect, Row, Tx, decode_row

ColumnType = Literal["text", "uuid", "int", "bigint", "real", "bool", "time", "date", "json"]

_SQLITE_TYPES: dict[ColumnType, str] = {
    "text": "TEXT",
    "uuid": "TEXT",
    "int": "INTEGER",
    "bigint": "INTEGER",
    "real": "REAL",
    "bool": "INTEGER",
    "time": "TEXT",
    "date": "TEXT",
    "json": "TEXT",
}
_POSTGRES_TYPES: dict[ColumnType, str] = {
    "text": "text",
    "uuid": "uuid",
    "int": "integer",
    "bigint": "bigint",
    "real": "double precision",
    "bool": "boolean",
    "time": "timestamptz",
    "date": "date",
    "json": "jsonb",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False


def col(name: str, type_: ColumnType, *, null: bool = False) -> Column:
    """A column; NOT NULL unless `null`."""
    return Column(name, type_, null)


@dataclass(frozen=True)
class Index:
    suffix: str
    """The index is named `<table>_<suffix>`."""
    columns: tuple[str, ...]
    unique: bool = False
    fixed: bool = False
    """A row's values in these columns never change once it is written (say, the position of
    the event that made the row): a unique index so does not keep a batch from upserting its
    rows (projections/rows.py), as no row can take another's old value."""


@dataclass(frozen=True)
class Table:
    """One projection table: `name` is its placeholder key (and its live name)."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    indexes: tuple[Index, ...] = field(default=())

    def ddl(self, dialect: Dialect) -> list[str]:
        """CREATE TABLE and CREATE INDEX statements, with `{table}` placeholders."""
        types = _POSTGRES_TYPES if dialect.name == "postgres" else _SQLITE_TYPES
        lines = [f"    {c.name} {types[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in self.columns]
        lines.append(f"    PRIMARY KEY ({', '.join(self.primary_key)})")
        table = "{" + self.name + "}"
        statements = [f"CREATE TABLE IF NOT EXISTS {table} (\n" + ",\n".join(lines) + "\n)"]
        statements += [
            f"CREATE {'UNIQUE ' if i.unique else ''}INDEX IF NOT EXISTS {table}_{i.suffix} "
            f"ON {table} ({', '.join(i.columns)})"
            for i in self.indexes
        ]
        return statements

    def decode(self, dialect: Dialect, row: Row) -> Row:
        """Plain Python values (datetime in UTC, date, UUID, bool, parsed JSON) from a row."""
        kinds = self._decoded
        if not self._names <= row.keys():  # some columns only (a read of its own): those of them
            kinds = {kind: [name for name in names if name in row] for kind, names in kinds.items()}
        return decode_row(dialect, row, **kinds)

    @cached_property
    def _decoded(self) -> dict[str, list[str]]:
        """`decode_row`'s columns of each kind: looked up per table, not per row (a batch decodes
        the rows it reads, a listing every row it answers)."""
        of = {"times": "time", "dates": "date", "jsons": "json", "uuids": "uuid", "bools": "bool"}
        return {kind: [c.name for c in self.columns if c.type == type_] for kind, type_ in of.items()}

    @cached_property
    def _names(self) -> frozenset[str]:
        return frozenset(self.column_names)

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @cached_property
    def inserts(self) -> dict[tuple[str, str, bool], str]:
        """`insert_many`'s statements by dialect, the table's name in the database (live or
        shadow) and whether it upserts."""
        return {}


def schema_ddl(tables: tuple[Table, ...], dialect: Dialect) -> str:
    """The DDL of several tables as one `;\\n`-separated script, as `Projection.ddl` reads it."""
    return ";\n".join(statement for t in tables for statement in t.ddl(dialect))


def insert(tx: Tx, table: Table, row: Row) -> None:
    """INSERT one row of `table` (every column named in `row`)."""
    names = [name for name in table.column_names if name in row]
    tx.execute(
        f"INSERT INTO {{{table.name}}} ({', '.join(names)}) "  # noqa: S608
        f"VALUES ({', '.join(':' + name for name in names)})",
        row,
    )


def insert_many(tx: Tx, table: Table, rows: list[Row], *, upsert: bool = False) -> None:
    """INSERT `rows` of `table` (decoded values, every column), their values converted a column
    at a time (projections/bulk.py), a few rows on SQLite row by row. On PostgreSQL in a pipeline
    one statement (a column of values each, `unnest`ed: parsed, planned and answered once);
    outside one (a rebuild's shadow batches of tables only appended to) `COPY` in binary when
    every value's type allows it. On SQLite executemany (in-process: one call). `upsert`: a row
    whose primary key is stored replaces the stored row's other columns (one statement where a
    DELETE and an INSERT were two)."""
    if not rows:
        return
    name = tx.tables[table.name]
    made = (tx.dialect.name, name, upsert)
    statement = table.inserts.get(made)
    if statement is None:  # made once per table, name and kind: every batch writes the same tables
        statement = table.inserts[made] = _insert_statement(tx.dialect, table, name, upsert)
    if tx.dialect is not POSTGRES:
        if len(rows) < BY_COLUMN:  # a command's batch: a row or two per table
            params = row_values(tx, table.columns, rows)
        else:
            params = list(zip(*column_values(tx, table.columns, rows), strict=True))
        tx.raw.executemany(statement, params)
        return
    values = column_values(tx, table.columns, rows)
    if not (upsert or tx.raw.connection.pgconn.pipeline_status) and copy_rows(
        tx, name, table.columns, values
    ):
        return
    tx.raw.execute(statement, dict(zip(table.column_names, values, strict=True)))


def _insert_statement(dialect: Dialect, table: Table, name: str, upsert: bool) -> str:
    """`insert_many`'s statement: on SQLite its rows as parameters, on PostgreSQL its columns as
    arrays, `unnest`ed."""
    names = ", ".join(table.column_names)
    conflict = _on_conflict(table) if upsert else ""
    if dialect is not POSTGRES:
        return f"INSERT INTO {name} ({names}) VALUES ({', '.join('?' * len(table.columns))}){conflict}"  # noqa: S608
    arrays = ", ".join(  # %b: arrays sent in binary, without quoting each value as text
        f"CAST(%({c.name})b AS {'text' if c.type == 'json' else _POSTGRES_TYPES[c.type]}[])"
        for c in table.columns
    )
    selected = ", ".join(f"CAST({c.name} AS jsonb)" if c.type == "json" else c.name for c in table.columns)
    return (
        f"INSERT INTO {name} ({names}) SELECT {selected} FROM unnest({arrays}) AS batch ({names}){conflict}"  # noqa: S608
    )


def _on_conflict(table: Table) -> str:
    """The clause that makes an INSERT of `table`'s rows replace the stored rows of their keys."""
    others = [c for c in table.column_names if c not in table.primary_key]
    action = f"UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in others)}" if others else "NOTHING"
    return f" ON CONFLICT ({', '.join(table.primary_key)}) DO {action}"


def row_of(tx: Tx, table: Table, key: Row) -> Row | None:
    """The row of `table` whose columns equal `key` (decoded), or None."""
    where = " AND ".join(f"{name} = :{name}" for name in key)
    found = tx.one(f"SELECT * FROM {{{table.name}}} WHERE {where}", key)  # noqa: S608
    return None if found is None else table.decode(tx.dialect, found)


def update(tx: Tx, table: Table, key: Row, changes: Row) -> None:
    """UPDATE the columns named in `changes` of the row whose columns equal `key`."""
    assignments = ", ".join(f"{name} = :{name}" for name in changes)
    where = " AND ".join(f"{name} = :{name}" for name in key)
    tx.execute(f"UPDATE {{{table.name}}} SET {assignments} WHERE {where}", changes | key)  # noqa: S608
