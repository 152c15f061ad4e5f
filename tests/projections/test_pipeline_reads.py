"""A read in a batch of pipelined statements gets its own answer, however many writes went before it
(projections/sql.py `Tx.own_cursor`): psycopg hands a cursor each answer as it arrives, and a read
on the writes' cursor could take a write's answer for its own."""

from __future__ import annotations

from nm_workflow.application.store import EventStore
from projections.database import Database

TABLES = {"pipelined": "pipelined"}


def test_reads_after_many_pipelined_writes_answer_what_they_asked(store: EventStore) -> None:
    db = Database(store)
    with db.write(TABLES) as tx:
        tx.raw.execute("CREATE TABLE pipelined (n INTEGER PRIMARY KEY, doc TEXT NOT NULL)")
    with db.write(TABLES) as tx, tx.batched():
        for round_ in range(1, 41):
            first = (round_ - 1) * 100
            rows = [{"n": n, "doc": f'{{"n": {n}}}'} for n in range(first, first + 100)]
            tx.execute_many("INSERT INTO {pipelined} (n, doc) VALUES (:n, :doc)", rows)
            tx.execute_many("DELETE FROM {pipelined} WHERE n = :n", [{"n": -n} for n in range(1, 1000)])
            assert tx.all("SELECT count(*) AS rows FROM {pipelined}") == [{"rows": round_ * 100}]
            assert tx.one("SELECT max(n) AS top FROM {pipelined}") == {"top": first + 99}
            docs = tx.all("SELECT doc FROM {pipelined} WHERE n >= :first ORDER BY n", {"first": first})
            assert docs == [{"doc": f'{{"n": {n}}}'} for n in range(first, first + 100)]
