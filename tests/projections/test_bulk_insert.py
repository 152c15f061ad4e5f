"""Many rows written at once (projections/bulk.py: a column at a time; on PostgreSQL `unnest` in a
pipeline, binary COPY outside one) end as the same rows as the reference path, one INSERT per row
through `Dialect.param`, whatever the values hold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from nm_workflow.application.store import EventStore
from projections.bulk import _STREAMS, BY_COLUMN, column_values, copy_rows, row_values, streamed
from projections.database import Database
from projections.schema import Table, col, insert, insert_many
from projections.sql import SQLITE, Row, Tx

SAMPLE = Table(
    "bulk_sample",
    (
        col("position", "bigint"), col("id", "uuid"), col("label", "text", null=True),
        col("count", "int"), col("ratio", "real", null=True), col("flag", "bool"),
        col("at", "time"), col("day", "date", null=True), col("extra", "json", null=True),
    ),
    ("position",),
)  # fmt: skip
AWKWARD = [
    "tab\there, new\nline, return\r, form\ffeed",
    "back\\slash \\N \\. \\\\ and 'single' \"double\" quotes",
    "最佳 ünïcödé \u200b zero-width, 🙂 emoji, e\u0301 combining",
    "\\u0000 as text, not a NUL",
    "x" * 200_000,  # far more than a COPY buffer
    "",
]
MANY = BY_COLUMN + 3  # rows: enough for their columns to be converted a column at a time


class Channel(Enum):
    WECHAT = "wechat"


def _rows(start: int, count: int = MANY) -> list[Row]:
    shanghai = timezone(timedelta(hours=8))
    rows = []
    for n in range(count - 1):
        text = AWKWARD[n] if n < len(AWKWARD) else AWKWARD[n % 4]
        rows.append({
            "position": start + n, "id": UUID(int=n + 1), "label": text, "count": -(2**31) + n,
            "ratio": None if n % 2 else n / 3, "flag": bool(n % 2),
            "at": datetime(1, 1, 1, tzinfo=UTC) if n == 0 else datetime(2026, 9, 30, 23, 30, n, 7, shanghai),
            "day": None if n == 1 else date(9999, 12, 31),
            "extra": None if n == 2 else {"text": text, "n": [n, None]},
        })  # fmt: skip
    at = rows[1]["at"]  # an Enum in a text column, a time in JSON: converted as one value is
    rows.append({**rows[1], "position": start + len(rows), "label": Channel.WECHAT, "extra": {"at": at}})
    return rows


def _stored(db: Database, position_from: int, count: int) -> list[Row]:
    with db.read({"bulk_sample": "bulk_sample"}) as tx:
        found = tx.all(
            "SELECT * FROM {bulk_sample} WHERE position >= :low AND position < :high ORDER BY position",
            {"low": position_from, "high": position_from + count},
        )
    # As stored, not decoded: a JSON value stored as a JSON string would decode the same.
    return [{**row, "position": row["position"] - position_from} for row in found]


@pytest.fixture
def db(store: EventStore) -> Database:
    database = Database(store)
    with database.write({"bulk_sample": "bulk_sample"}) as tx:
        for statement in SAMPLE.ddl(database.dialect):
            tx.execute(statement)
    return database


def test_many_rows_at_once_are_stored_as_one_by_one(db: Database) -> None:
    tables = {"bulk_sample": "bulk_sample"}
    one_by_one, at_once, pipelined = _rows(0), _rows(100), _rows(200)
    with db.write(tables) as tx:
        for row in one_by_one:
            extra = None if row["extra"] is None else db.dialect.json(row["extra"])
            insert(tx, SAMPLE, {**row, "extra": extra})
        insert_many(tx, SAMPLE, at_once)  # outside a pipeline: COPY on PostgreSQL
        insert_many(tx, SAMPLE, [{**row, "position": row["position"] + 300} for row in one_by_one[:5]])
    with db.write(tables) as tx, tx.batched():
        insert_many(tx, SAMPLE, pipelined)  # in one: the `unnest` statement
    expected = _stored(db, 0, len(one_by_one))
    assert expected[2]["label"] == AWKWARD[2]
    assert expected[-1]["label"] == "wechat"
    assert SAMPLE.decode(db.dialect, expected[3])["extra"] == {"text": AWKWARD[3], "n": [3, None]}
    assert _stored(db, 100, len(at_once)) == expected
    assert _stored(db, 200, len(pipelined)) == expected
    assert _stored(db, 300, 5) == expected[:5]  # a few rows: converted value by value


def test_a_few_rows_made_row_by_row_have_the_parameters_made_a_column_at_a_time() -> None:
    """SQLite's few rows (a command's batch) skip the columns: each value converted the same."""
    tx = Tx(None, SQLITE, {})
    rows = _rows(0) + [{**row, "label": "a\x00b", "extra": {"k\x00": "v"}} for row in _rows(100, 3)]
    assert row_values(tx, SAMPLE.columns, rows) == list(
        zip(*column_values(tx, SAMPLE.columns, rows), strict=True)
    )


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_copy_takes_text_with_nul_as_the_reference_path_does(db: Database) -> None:
    rows = [{**row, "label": "a\x00b", "extra": {"k\x00": "v\x00"}} for row in _rows(0)]
    with db.write({"bulk_sample": "bulk_sample"}) as tx:
        for row in rows:
            insert(tx, SAMPLE, {**row, "extra": db.dialect.json(row["extra"])})
        insert_many(tx, SAMPLE, [{**row, "position": row["position"] + 100} for row in rows])
    first = _stored(db, 0, len(rows))
    assert first[0]["label"] == "a\ufffdb"
    assert SAMPLE.decode(db.dialect, first[0])["extra"] == {"k\ufffd": "v\ufffd"}
    assert _stored(db, 100, len(rows)) == first


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_copy_declines_values_its_binary_format_would_misread(db: Database) -> None:
    rows = _rows(0)
    as_text = [{**row, "id": str(row["id"])} for row in rows]  # an id given as text: PostgreSQL casts it
    with db.write({"bulk_sample": "bulk_sample"}) as tx:
        assert copy_rows(tx, "bulk_sample", SAMPLE.columns, column_values(tx, SAMPLE.columns, rows))
        assert not copy_rows(tx, "bulk_sample", SAMPLE.columns, column_values(tx, SAMPLE.columns, as_text))
        insert_many(tx, SAMPLE, [{**row, "position": row["position"] + 100} for row in as_text])
    assert _stored(db, 100, len(rows)) == _stored(db, 0, len(rows))
    assert isinstance(SAMPLE.decode(db.dialect, _stored(db, 100, 1)[0])["id"], UUID)


FAILURES = {  # where a streamed batch fails, and the error it ends with
    "in the block": RuntimeError,
    "at the end of the COPY": IntegrityError,  # the library's, the driver's UniqueViolation its cause
    "a value COPY does not take": TypeError,
}


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
@pytest.mark.parametrize("failure", FAILURES)
def test_a_stream_that_fails_half_way_writes_nothing_and_leaves_no_open_copy_behind(
    db: Database, failure: str
) -> None:
    rows, tables = _rows(0), {"bulk_sample": "bulk_sample"}
    with pytest.raises(FAILURES[failure]):
        _stream_failing(db, rows, failure)
    assert _STREAMS == {}, "no open COPY left for the connection's next user"
    assert _stored(db, 0, len(rows)) == []
    with db.write(tables) as tx:  # the pooled connection is free again, the table unchanged
        insert_many(tx, SAMPLE, rows)
    assert len(_stored(db, 0, len(rows))) == len(rows)


def _stream_failing(db: Database, rows: list[Row], failure: str) -> None:
    with db.write({"bulk_sample": "bulk_sample"}) as tx, streamed(tx, "bulk_sample", SAMPLE.columns):
        insert_many(tx, SAMPLE, rows)
        if failure == "in the block":
            raise RuntimeError(failure)
        if failure == "at the end of the COPY":
            insert_many(tx, SAMPLE, rows)  # the same positions again: refused when the COPY ends
        else:  # the connection is busy with the COPY: no other statement may be sent on it
            insert_many(tx, SAMPLE, [{**row, "id": str(row["id"])} for row in rows])
