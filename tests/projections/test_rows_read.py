"""A row read through a projection transaction is a dict of its columns, in their order, on both
databases (on SQLite made from `sqlite3.Row` by the columns' names taken once, ADR 0073)."""

from __future__ import annotations

import sqlite3

from projections import ReadModel
from projections.schema import Table, col, insert
from projections.sql import _dicts

WIDE = Table("rows_read_wide", tuple(col(f"c{n:02d}", "bigint", null=True) for n in range(30)), ("c00",))
TABLES = {WIDE.name: WIDE.name}


def test_rows_are_dicts_of_their_columns_in_order(read_model: ReadModel) -> None:
    db = read_model.db
    written = [
        {f"c{n:02d}": None if (n + k) % 7 == 0 and n else n * 100 + k for n in range(30)} for k in range(3)
    ]
    with db.write(TABLES) as tx:
        for statement in WIDE.ddl(tx.dialect):
            tx.execute(statement)
        for row in written:
            insert(tx, WIDE, row)
    with db.read(TABLES) as tx:
        read = tx.all("SELECT * FROM {rows_read_wide} ORDER BY c00")
        one = tx.one("SELECT c05, c00 FROM {rows_read_wide} WHERE c00 = :k", {"k": 1})
        none = tx.all("SELECT * FROM {rows_read_wide} WHERE c00 < 0")
    assert read == written
    assert [list(row) for row in read] == [list(WIDE.column_names)] * 3
    assert one is not None
    assert list(one.items()) == [("c05", 501), ("c00", 1)]
    assert none == []


def test_sqlite_rows_are_what_dict_makes_of_them() -> None:
    connection = sqlite3.connect(":memory:")
    connection.row_factory = sqlite3.Row
    rows = connection.execute("SELECT 1 AS a, 'x' AS B, NULL AS c UNION ALL SELECT 2, 'y', 3.5").fetchall()
    assert _dicts(rows) == [dict(row) for row in rows]
    assert [list(row) for row in _dicts(rows)] == [["a", "B", "c"]] * 2
