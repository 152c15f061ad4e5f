"""A batch's replaced and deleted rows leave the table (on PostgreSQL one DELETE per table of a
one-column key), whatever text their keys hold."""

from __future__ import annotations

from projections import ReadModel
from projections.rows import Keyed, kept_for_the_batch
from projections.schema import Index, Table, col

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
