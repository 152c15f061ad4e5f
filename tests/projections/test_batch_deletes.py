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


def test_a_row_replaced_under_a_key_that_is_not_the_primary_key_is_deleted_then_inserted(
    read_model: ReadModel,
) -> None:
    # Upserted by its primary key, the row ("a", 0) would stay beside ("a", 10) (ADR 0056).
    db, tables = read_model.db, {PAIRS.name: PAIRS.name}
    with db.write(tables) as tx:
        for statement in PAIRS.ddl(tx.dialect):
            tx.execute(statement)
    for n in (0, 10):
        with db.write(tables) as tx, tx.batched(), kept_for_the_batch(tx, (BY_NAME_ONLY,), ["a"]):
            BY_NAME_ONLY.put(tx, {"name": "a", "n": n})
    with db.read(tables) as tx:
        assert [(r["name"], r["n"]) for r in tx.all("SELECT name, n FROM batch_deletes_pairs")] == [("a", 10)]


RANKED = Table("batch_deletes_ranked", (col("name", "text"), col("n", "bigint")), ("name",),
               (Index("n", ("n",), unique=True),))  # fmt: skip
BY_RANK = Keyed(RANKED, ("name",))


def test_two_rows_swapping_a_value_of_another_unique_index_in_one_batch_are_written(
    read_model: ReadModel,
) -> None:
    # Upserted one by one, "a" taking 2 would meet "b"'s stored 2 (ADR 0056): such a table's
    # changed rows are deleted first, then inserted.
    db, tables = read_model.db, {RANKED.name: RANKED.name}
    with db.write(tables) as tx:
        for statement in RANKED.ddl(tx.dialect):
            tx.execute(statement)
    for ranks in ({"a": 1, "b": 2}, {"a": 2, "b": 1}):
        with db.write(tables) as tx, tx.batched(), kept_for_the_batch(tx, (BY_RANK,), ["a", "b"]):
            for name, n in ranks.items():
                BY_RANK.put(tx, {"name": name, "n": n})
    with db.read(tables) as tx:
        rows = tx.all("SELECT name, n FROM batch_deletes_ranked ORDER BY name")
    assert [(r["name"], r["n"]) for r in rows] == [("a", 2), ("b", 1)]
