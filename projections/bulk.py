"""Many rows of a projection table as one statement's parameters, converted a column at a time.

`insert_many` (projections/schema.py) writes a batch's rows with one statement: its values
are the rows' decoded values converted as `Dialect.param` and `Dialect.json` convert one
value. Converting value by value cost a rebuild of `audit_trail` (a row of twelve columns per
event) about as much as writing the rows (docs/performance-history.md, "Rebuilds"). Here, in a batch of
`BY_COLUMN` rows or more, each column is converted at once: the types of its values are
looked at together, and a column whose values the dialect passes as they are (numbers, text
without NUL, and on PostgreSQL ids) is passed as it is; the others are converted value by
value as before, so the parameters are exactly those of `Dialect.param`.

On PostgreSQL outside a pipeline the rows are sent with `COPY ... FROM STDIN (FORMAT BINARY)`
(`copy_rows`): no statement to parse and plan, no arrays to unpack and cast on the server.
A rebuild's shadow batch of a table only appended to keeps one COPY open while it decodes and
applies its events a chunk at a time (`streamed`): the server inserts as the rows come.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg import Copy

from nm_workflow.application.ids import id_text
from projections.sql import POSTGRES, PostgresDialect, Row, Tx, dumps, sqlite_time

if TYPE_CHECKING:  # (schema.py imports this module)
    from projections.schema import Column

_PASSED_AS_THEY_ARE: dict[str, frozenset[type]] = {
    "sqlite": frozenset({int, float, bool, type(None), str}),
    "postgres": frozenset({int, float, bool, type(None), UUID, date}),  # text: unless it holds NUL
}
"""Types of values `Dialect.param` returns unchanged (exact types: an Enum of str is converted)."""


def column_values(tx: Tx, table_columns: Sequence[Column], rows: Sequence[Row]) -> list[list[Any]]:
    """The parameters of `rows`, one list per column of `table_columns`, in order: what
    `tx.dialect.param` gives each value, JSON columns as JSON text."""
    postgres = tx.dialect is POSTGRES
    text = PostgresDialect.json_text if postgres else dumps
    as_they_are, param = _PASSED_AS_THEY_ARE[tx.dialect.name], tx.dialect.param
    by_column = len(rows) >= BY_COLUMN
    columns = []
    for column in table_columns:
        values = [row[column.name] for row in rows]
        if column.type == "json":
            columns.append([None if value is None else text(value) for value in values])
        elif not by_column or (converted := _by_column(values, postgres, as_they_are)) is None:
            columns.append([value if type(value) in as_they_are else param(value) for value in values])
        else:
            columns.append(converted)
    return columns


def row_values(tx: Tx, table_columns: Sequence[Column], rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    """SQLite, fewer than `BY_COLUMN` rows: the parameters of `rows` as `column_values` gives them,
    made row by row (a command's batch writes a row or two per table: no columns to make, then
    turn into rows)."""
    as_they_are, param = _PASSED_AS_THEY_ARE["sqlite"], tx.dialect.param
    columns = [(column.name, column.type == "json") for column in table_columns]
    return [
        tuple([
            (None if value is None else dumps(value)) if json
            else value if type(value) in as_they_are else param(value)
            for name, json in columns
            for value in (row[name],)
        ])
        for row in rows
    ]  # fmt: skip


BY_COLUMN = 32
"""Rows from which a column's values are looked at together: below, a batch of a command or two
(the runners' usual one), looking costs more than it saves."""


def _by_column(values: list[Any], postgres: bool, as_they_are: frozenset[type]) -> list[Any] | None:
    """`values` converted all alike when their types allow it; None when each needs its own look."""
    types = set(map(type, values))
    if postgres and str in types and "\x00" not in "".join([v for v in values if type(v) is str]):
        types.discard(str)  # PostgreSQL's param only replaces NUL in text
    if types <= as_they_are:
        return values
    if types == {datetime}:
        return [value.astimezone(UTC) for value in values] if postgres else list(map(sqlite_time, values))
    if types == {UUID} and not postgres:
        return list(map(id_text, values))
    return None


_BINARY = {
    "text": (str,), "uuid": (UUID,), "int": (int,), "bigint": (int,), "real": (float,),
    "bool": (bool,), "time": (datetime,), "date": (date,), "json": (str,),
}  # fmt: skip
"""The Python types PostgreSQL's binary format takes for each portable type (no cast on the
server: a value of another type, say an id given as text, takes the `unnest` statement)."""
_ACCEPTED = {name: frozenset({*types, type(None)}) for name, types in _BINARY.items()}
_BINARY_NAMES = {
    "text": "text", "uuid": "bytea", "int": "int4", "bigint": "int8", "real": "float8",
    "bool": "bool", "time": "timestamptz", "date": "date", "json": "bytea",
}  # fmt: skip
"""The type whose binary dumper writes each portable type's field. A binary COPY's field is its
bytes alone, read by the column's own type: ids and JSON go as the bytes of their binary formats
(a uuid's 16 bytes; jsonb's version 1, then the JSON text), which psycopg's `bytea` dumper passes
as they are, in C, where its `uuid` and `jsonb` dumpers took a Python call per value."""


def copy_rows(tx: Tx, table: str, table_columns: Sequence[Column], columns: list[list[Any]]) -> bool:
    """PostgreSQL: COPY the converted `columns` into `table` in binary; False (nothing sent)
    when a value is of a type the binary format of its column does not take. Within
    `streamed` for `table`, the rows go into its open COPY."""
    accepted = all(
        set(map(type, values)) <= _ACCEPTED[column.type]
        for column, values in zip(table_columns, columns, strict=True)
    )
    stream = _STREAMS.get((id(tx.raw.connection), table))
    if stream is not None and not accepted:  # the connection is busy with the COPY: no statement
        raise TypeError(f"a value of {table} that binary COPY does not take, while rows stream into it")
    if not accepted:
        return False
    if stream is not None:
        _write(stream, table_columns, columns)
        return True
    with _copy(tx, table, table_columns) as copy:
        _write(copy, table_columns, columns)
    return True


_STREAMS: dict[tuple[int, str], Copy] = {}
"""The COPYs `streamed` holds open, by connection (its id) and table."""


@contextmanager
def streamed(tx: Tx, table: str, table_columns: Sequence[Column]) -> Iterator[None]:
    """PostgreSQL, outside a pipeline: inside the block, every batch of rows `copy_rows` is given
    for `table` goes into one COPY, open until the block ends. The server inserts the rows as
    they arrive, while the client makes the next ones; a COPY per batch would wait for the
    server at each end instead. Nothing else may use the connection inside the block (a rebuild's
    shadow batch of a table only appended to, which reads nothing)."""
    key = (id(tx.raw.connection), table)
    with _copy(tx, table, table_columns) as copy:
        _STREAMS[key] = copy
        try:
            yield
        finally:
            del _STREAMS[key]


def _copy(tx: Tx, table: str, table_columns: Sequence[Column]) -> AbstractContextManager[Copy]:
    names = ", ".join(column.name for column in table_columns)
    return tx.raw.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)")  # type: ignore[no-any-return]


def _write(copy: Copy, table_columns: Sequence[Column], columns: list[list[Any]]) -> None:
    copy.set_types([_BINARY_NAMES[column.type] for column in table_columns])
    sent = [_wire(column.type, values) for column, values in zip(table_columns, columns, strict=True)]
    for row in zip(*sent, strict=True):
        copy.write_row(row)


def _wire(portable: str, values: list[Any]) -> list[Any]:
    """A column's values as `_BINARY_NAMES`' dumper takes them."""
    if portable == "uuid":
        return [None if value is None else value.bytes for value in values]
    if portable == "json":  # jsonb's binary format: version 1, then the text in UTF-8
        return [None if value is None else b"\x01" + value.encode() for value in values]
    return values
