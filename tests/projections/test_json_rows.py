"""json_column: many JSON documents decoded a chunk at a time, with their keys shared."""

from __future__ import annotations

import json

import pytest

from projections import ReadModel, json_rows

DOCUMENTS = [{"department": "marketing", "platforms": [f"p{n}"], "reviews": {"editor": n}} for n in range(5)]


def test_documents_read_in_chunks_are_the_rows_in_order_with_shared_keys(
    read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_rows, "CHUNK_ROWS", 2)  # five rows: chunks of 2, 2 and 1
    rows = " UNION ALL ".join(f"SELECT {n} AS n, CAST(:d{n} AS text) AS doc" for n in range(len(DOCUMENTS)))
    params = {f"d{n}": json.dumps(d) for n, d in enumerate(DOCUMENTS)}
    with read_model.db.read({}) as tx:
        found = json_rows.json_column(tx, f"SELECT doc FROM ({rows}) AS d ORDER BY n", params)

    assert found == DOCUMENTS
    # One copy of each key per chunk, not per document: what keeps a quarter's facts small.
    first, second = (list(doc) for doc in found[:2])
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert next(iter(found[0]["reviews"])) is next(iter(found[1]["reviews"]))
