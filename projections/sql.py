"""The two SQL dialects the projections write, and the statements of a transaction (`Tx`).

Statements are written once, with `:name` parameters and `{table}` placeholders
for table names; `Tx.execute` fills in the table names (the live ones, or the
shadow ones of a rebuild) and converts parameters for psycopg. Values go
through the dialect: timestamps are `timestamptz` on PostgreSQL and UTC text
`YYYY-MM-DD HH:MM:SS.ffffff` on SQLite, the year always four digits (0001 to
9999), so that text order is time order for every time Python can hold; JSON
is `jsonb` on PostgreSQL and JSON text on SQLite.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import Enum
from functools import lru_cache
from typing import Any, cast
from uuid import UUID

from psycopg.types.json import Jsonb

from nm_workflow.application.ids import id_text, parsed_id
from nm_workflow.application.json_text import compact_encoder

_PARAMETER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")  # after an even number of backslashes
Row = dict[str, Any]


def to_jsonable(value: Any) -> Any:
    """`json.dumps(default=...)`: the event values that JSON lacks, as text."""
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, date | UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ENCODE = compact_encoder(to_jsonable, sort_keys=True)


def dumps(value: Any) -> str:
    # Sorted keys: incremental and rebuilt rows must be byte-identical.
    return value.text if type(value) is JSONText else _ENCODE(value)


class JSONText:
    """A JSON column's value already encoded, exactly as `dumps` would encode it: passed as it
    is (a `quarterly_evaluation_state`'s multisets, base64 text that JSON never escapes, are
    placed between quotes instead of scanned character by character)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def sqlite_time(moment: datetime) -> str:
    """UTC text `YYYY-MM-DD HH:MM:SS.ffffff`, zero-padded (strftime's %Y is not below year 1000)."""
    if moment.tzinfo is UTC and type(moment) is datetime:  # an event's time, or one read back
        return _utc_text(moment)
    return _utc_fields(utc(moment))


@lru_cache(maxsize=4096)
def _utc_text(moment: datetime) -> str:
    """`sqlite_time` of a time in UTC, made once: a batch writes back the times of the rows it
    read (`item_status` keeps a dozen). Equal times in UTC are the same instant, so share one text."""
    return _utc_fields(moment)


def _utc_fields(moment: datetime) -> str:
    """`moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")` of a time in UTC,
    its fields formatted at once: `replace` and `isoformat` with their keywords cost about twice as
    much, and every event brings a time not seen before (its own)."""
    return _UTC_TEXT % (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


_UTC_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


@lru_cache(maxsize=4096)
def _sqlite_time_out(text: str) -> datetime:
    """A time read from SQLite's text, parsed once (a datetime is immutable: shared)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Dialect:
    """SQLite: the reference; PostgreSQL overrides what differs."""

    name = "sqlite"

    def statement(self, sql: str) -> str:
        return sql

    def param(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return sqlite_time(value)
        if isinstance(value, UUID):
            return id_text(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Enum):
            return value.value
        return value

    def json(self, value: Any) -> Any:
        return dumps(value)

    def time_out(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):  # PostgreSQL's, in the session's time zone
            return value.astimezone(UTC)
        return _sqlite_time_out(value)

    def date_out(self, value: Any) -> date | None:
        return date.fromisoformat(value) if isinstance(value, str) else value

    def json_out(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def uuid_out(self, value: Any) -> UUID | None:
        return parsed_id(value) if isinstance(value, str) else value


class PostgresDialect(Dialect):
    name = "postgres"

    def statement(self, sql: str) -> str:
        return _PARAMETER.sub(r"%(\1)s", sql)

    def param(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return utc(value)
        if isinstance(value, str):
            # PostgreSQL text cannot hold NUL; the event log can. Keep the projection moving.
            return value.replace("\x00", "\ufffd")
        if isinstance(value, Enum):
            return value.value
        return value

    def json(self, value: Any) -> Any:
        return Jsonb(self.json_text(value), dumps=_as_is)

    @staticmethod
    def json_text(value: Any) -> str:
        """`value` as JSON text PostgreSQL accepts (its text cannot hold NUL, JSON's can): each
        escaped NUL made U+FFFD; a text that spells `\\u0000` (an escaped backslash first) stays."""
        text = dumps(value)
        return _NUL_ESCAPE.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def _as_is(text: Any) -> Any:
    return text


SQLITE, POSTGRES = Dialect(), PostgresDialect()

# A NULL parameter bound without a failed look-up. sqlite3 offers every value of a type other than
# int, float and str to its adapters, and for a type without one looks up `__adapt__` on its
# protocol (raising and dropping an AttributeError, its message formatted) and `__conform__` on
# the value: a batch of one command binds about a hundred NULLs. This adapter (a C function:
# `{}.get(None)` is None) gives back the same None, bound as NULL as before, for every user of
# sqlite3 in the process.
sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))


class Tx:
    """One transaction's cursor, with the table names of the build it writes."""

    def __init__(self, cursor: Any, dialect: Dialect, tables: Mapping[str, str]) -> None:
        self.raw, self.dialect, self.tables = cursor, dialect, dict(tables)
        self._names = tuple(sorted(self.tables.items()))
        self.batch_rows: dict[str, Any] = {}
        """What projections/rows.py keeps of a batch's rows, by table name; dropped with the Tx."""

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        param = self.dialect.param
        values = {k: param(v) for k, v in params.items()} if params else {}
        self.raw.execute(_prepared(self.dialect, sql, self._names), values)

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """`execute` once per row of `rows`, as one call (psycopg and sqlite3's executemany)."""
        if not rows:
            return
        param = self.dialect.param
        values = [{k: param(v) for k, v in row.items()} for row in rows]
        self.raw.executemany(_prepared(self.dialect, sql, self._names), values)

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        reader = self.own_cursor()
        reader.execute(sql, params)
        row = reader.raw.fetchone()
        return None if row is None else _dicts([row])[0]

    def one_later(self, sql: str, params: Mapping[str, Any] | None = None) -> Callable[[], Row | None]:
        """Run `sql` now; its row when the returned function is called (see `all_later`)."""
        rows = self.all_later(sql, params)
        return lambda: next(iter(rows()), None)

    def all_later(self, sql: str, params: Mapping[str, Any] | None = None) -> Callable[[], list[Row]]:
        """Run `sql` now; its rows when the returned function is called. Within `batched`, the
        answer is not waited for until then (a cursor of its own keeps it), so several reads
        sent one after the other are answered in one round trip."""
        if self.dialect is not POSTGRES:  # in-process: nothing to wait for
            rows = self.all(sql, params)
            return lambda: rows
        own = self.own_cursor()
        own.execute(sql, params)
        return lambda: [dict(row) for row in own.raw.fetchall()]

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        reader = self.own_cursor()
        reader.execute(sql, params)
        return _dicts(reader.raw.fetchall())

    def own_cursor(self) -> Tx:
        """This transaction with a cursor of its own on PostgreSQL (itself on SQLite): read through
        it. Within `batched`, psycopg hands a cursor the answer of each statement it sent as it
        arrives; a read on the cursor of earlier writes whose answers are still on the way could
        take one of those for its own ("the last operation didn't produce records")."""
        if self.dialect is not POSTGRES:
            return self
        return Tx(self.raw.connection.cursor(), self.dialect, self.tables)

    def with_tables(self, tables: Mapping[str, str]) -> Tx:
        return Tx(self.raw, self.dialect, tables)

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Statements of the block sent without waiting for each answer (PostgreSQL's pipeline).

        A read (`one`, `all`) still gets its answer: psycopg sends what is queued and waits
        then. A failing statement raises at the next read or at the end of the block, and the
        transaction rolls back as usual. SQLite runs in-process: nothing to batch.
        """
        if self.dialect is not POSTGRES:
            yield
            return
        with self.raw.connection.pipeline():
            yield


def _dicts(rows: list[Any]) -> list[Row]:
    """Each row as a dict of its columns. SQLite's (`sqlite3.Row`) by the columns' names taken
    once: `dict(row)` looks up each name among the columns, one after the other (an
    `item_status` row of 30 columns made 465 comparisons); the same names and values."""
    if not rows or type(rows[0]) is not sqlite3.Row:
        return [dict(row) for row in rows]
    names = rows[0].keys()
    return [dict(zip(names, row, strict=True)) for row in rows]


@lru_cache(maxsize=1024)
def _prepared(dialect: Dialect, sql: str, tables: tuple[tuple[str, str], ...]) -> str:
    return dialect.statement(sql.format_map(dict(tables)))


def decode_row(
    dialect: Dialect, row: Row, *, times: Sequence[str] = (), dates: Sequence[str] = (),
    jsons: Sequence[str] = (), uuids: Sequence[str] = (), bools: Sequence[str] = (),
) -> Row:  # fmt: skip
    """Plain Python values from a row of either database."""
    out = dict(row)
    for name in times:
        out[name] = dialect.time_out(out[name])
    for name in dates:
        out[name] = dialect.date_out(out[name])
    for name in jsons:
        out[name] = dialect.json_out(out[name])
    for name in uuids:
        out[name] = dialect.uuid_out(out[name])
    for name in bools:
        out[name] = None if out[name] is None else bool(out[name])
    return out
