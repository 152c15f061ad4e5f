"""A batch's replaced and deleted rows leave the table (on PostgreSQL one DELETE per table of a
one-column key), whatever text their keys hold; beside a unique index of columns a row never
changes, its changed rows are upserted (ADR 0073)."""

from __future__ import annotations

from typing import Any

from projections import ReadModel
from projections.rows import Keyed, kept_for_the_batch
from projections.schema import Index, Table, col
from projections.sql import Tx

NAMED = Table("batch_deletes_named", (col("name", "text"), col("n", "bigint")), ("name",))
BY_NAME = Keyed(NAMED, ("name",))
TABLES = {NAMED.name: NAMED.name}
NAMES = ("a", "b\x00c", "d", "e")


def test_rows_replaced_and_deleted_in_a_batch_are_gone_and_the_others_stay(read_model: ReadModel) -> None:
    db = read_model.db
    with db.write(TABLES) as tx:
        for statement in NAMED.ddl(tx.dialect):
            tx.execute(statement)
    with db.write(TABLES) as tx, tx.batched(), kept_for_the_batch(tx, (BY_NAME,), NAMES):
        for n, name in enumerate(NAMES):
            BY_NAME.put(tx, {"name": name, "n": n})

    # Another batch: two rows replaced (one key with a NUL, which PostgreSQL's text holds as
    # U+FFFD), one deleted, one left alone. A stored row not deleted would make its insert fail.
    with db.write(TABLES) as tx, tx.batched(), kept_for_the_batch(tx, (BY_NAME,), NAMES[:3]):
        BY_NAME.put(tx, {"name": "a", "n": 10})
        BY_NAME.put(tx, {"name": "b\x00c", "n": 11})
        BY_NAME.delete(tx, ("d",))

    with db.read(TABLES) as tx:
        rows = tx.all("SELECT name, n FROM batch_deletes_named ORDER BY n")
    stored_b = "b\ufffdc" if db.is_postgres else "b\x00c"
    assert [(r["name"], r["n"]) for r in rows] == [("e", 3), ("a", 10), (stored_b, 11)]


PAIRS = Table("batch_deletes_pairs", (col("name", "text"), col("n", "bigint")), ("name", "n"))
BY_NAME_ONLY = Keyed(PAIRS, ("name",))  # a key that is not the primary key: never upserted
RANKED = Table("batch_deletes_ranked", (col("name", "text"), col("n", "bigint")), ("name",),
               (Index("n", ("n",), unique=True),))  # fmt: skip
BY_RANK = Keyed(RANKED, ("name",))  # beside another unique index: never upserted


def _batches(read_model: ReadModel, spec: Keyed, batches: list[dict[str, int]]) -> list[tuple[str, int]]:
    """Make `spec`'s table, put each batch's {name: n} in a batch of its own; the rows stored."""
    db, tables = read_model.db, {spec.table.name: spec.table.name}
    with db.write(tables) as tx:
        for statement in spec.table.ddl(tx.dialect):
            tx.execute(statement)
    for batch in batches:
        with db.write(tables) as tx, tx.batched(), kept_for_the_batch(tx, (spec,), sorted(batch)):
            for name, n in batch.items():
                spec.put(tx, {"name": name, "n": n})
    with db.read(tables) as tx:
        rows = tx.all(f"SELECT name, n FROM {spec.table.name} ORDER BY name, n")
    return [(r["name"], r["n"]) for r in rows]


def test_a_row_replaced_under_a_key_that_is_not_the_primary_key_is_deleted_then_inserted(
    read_model: ReadModel,
) -> None:
    # Upserted by its primary key, the row ("a", 0) would stay beside ("a", 10) (ADR 0056).
    assert _batches(read_model, BY_NAME_ONLY, [{"a": 0}, {"a": 10}]) == [("a", 10)]


def test_two_rows_swapping_a_value_of_another_unique_index_in_one_batch_are_written(
    read_model: ReadModel,
) -> None:
    # Upserted one by one, "a" taking 2 would meet "b"'s stored 2 (ADR 0056): such a table's
    # changed rows are deleted first, then inserted.
    assert _batches(read_model, BY_RANK, [{"a": 1, "b": 2}, {"a": 2, "b": 1}]) == [("a", 2), ("b", 1)]


POSITIONED = Table(
    "batch_deletes_positioned", (col("name", "text"), col("n", "bigint"), col("made", "bigint")), ("name",),
    (Index("made", ("made",), unique=True, fixed=True),),
)  # fmt: skip
BY_POSITION = Keyed(POSITIONED, ("name",))  # its other unique index is of a column set once: upserted


class _Sent:
    """A cursor that keeps the text of every statement sent through it."""

    def __init__(self, raw: Any) -> None:
        self.raw, self.sent = raw, list[str]()

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self.sent.append(str(sql))
        return self.raw.execute(sql, *args, **kwargs)

    def executemany(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self.sent.append(str(sql))
        return self.raw.executemany(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def test_rows_beside_a_unique_index_of_fixed_columns_are_upserted_not_deleted_first(
    read_model: ReadModel,
) -> None:
    db, tables = read_model.db, {POSITIONED.name: POSITIONED.name}
    with db.write(tables) as tx:
        for statement in POSITIONED.ddl(tx.dialect):
            tx.execute(statement)
    sent: list[str] = []
    for batch in ({"a": (1, 1), "b": (2, 2)}, {"a": (20, 1), "b": (10, 2)}, {"b": (30, 2), "c": (3, 3)}):
        with db.write(tables) as opened:
            cursor = _Sent(opened.raw)
            tx = Tx(cursor, opened.dialect, tables)
            with tx.batched(), kept_for_the_batch(tx, (BY_POSITION,), sorted(batch)):
                for name, (n, made) in batch.items():
                    BY_POSITION.put(tx, {"name": name, "n": n, "made": made})
        sent += cursor.sent
    with db.read(tables) as tx:
        rows = tx.all(f"SELECT name, n, made FROM {POSITIONED.name} ORDER BY name")
    assert [(r["name"], r["n"], r["made"]) for r in rows] == [("a", 20, 1), ("b", 30, 2), ("c", 3, 3)]
    assert not [s for s in sent if s.startswith("DELETE")]
    assert any("ON CONFLICT" in s for s in sent)
