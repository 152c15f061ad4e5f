"""Many JSON documents read at once, in little memory.

`json.loads` of one document builds its own string for every object key; a
projection that holds thousands of documents together (quarterly_evaluation
recomputes a quarter from the facts of every item in it) then keeps one copy of
the same sixteen keys per document, and the rows' JSON text beside them. Here
rows are fetched `CHUNK_ROWS` at a time and each chunk is decoded as one JSON
array, so the keys of a chunk's documents are shared strings and the text of
only one chunk is held at a time: about 1.5 kB per item's facts instead of
2.9 kB (docs/performance.md, "Memory: what grows with the log").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from projections.sql import Tx

CHUNK_ROWS = 1000  # rows fetched and decoded together: keys are shared within a chunk


def json_column(tx: Tx, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    """The decoded JSON of the one column `sql` selects, in row order.

    The column must be JSON text on both databases: select a `json` column of
    the projection schema as `CAST(x AS text)` (PostgreSQL would otherwise hand
    over `jsonb` already decoded, one document at a time).
    """
    reader = tx.own_cursor()
    reader.execute(sql, params)
    # eventsourcing's SQLite cursor wraps sqlite3's without passing fetchmany on.
    cursor = getattr(reader.raw, "sqlite_cursor", reader.raw)
    values: list[Any] = []
    while rows := cursor.fetchmany(CHUNK_ROWS):
        values += json.loads("[" + ",".join(next(iter(dict(row).values())) for row in rows) + "]")
    return values
