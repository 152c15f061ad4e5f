"""The SQLite datastore's transaction (sqlite_writers.py): the library's, as a class (ADR 0057)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError

from nm_workflow.application.sqlite_writers import QueuedSQLiteDatastore


@pytest.fixture
def datastore(tmp_path: Path) -> Iterator[QueuedSQLiteDatastore]:
    made = QueuedSQLiteDatastore(str(tmp_path / "db.sqlite3"), lock_timeout=1, pool_timeout=1.0)
    with made.transaction(commit=True) as cursor:
        cursor.execute("CREATE TABLE things (name TEXT PRIMARY KEY)")
    yield made
    made.close()


def names(datastore: QueuedSQLiteDatastore) -> list[str]:
    with datastore.transaction(commit=False) as cursor:
        cursor.execute("SELECT name FROM things ORDER BY name")
        return [row["name"] for row in cursor.fetchall()]


def test_a_block_commits_what_it_wrote_and_its_cursor_is_closed(datastore: QueuedSQLiteDatastore) -> None:
    with datastore.transaction(commit=True) as cursor:
        cursor.execute("INSERT INTO things VALUES ('one')")
    with pytest.raises(Exception, match="closed cursor"):
        cursor.execute("SELECT 1")
    assert names(datastore) == ["one"]


def test_a_block_that_raises_is_rolled_back_and_gives_its_connection_and_turn_back(
    datastore: QueuedSQLiteDatastore,
) -> None:
    def failing() -> None:
        with datastore.transaction(commit=True) as cursor:
            cursor.execute("INSERT INTO things VALUES ('gone')")
            raise KeyError("the block's own error passes through")

    for _ in range(3):  # the writer's connection and the file's turn came back each time
        with pytest.raises(KeyError):
            failing()
    assert names(datastore) == []
    writer = datastore.pool.get_connection(timeout=0.1, is_writer=True)  # none still held
    datastore.pool.put_connection(writer)
    assert datastore.pool.num_in_use == 0


def test_a_read_block_rolls_back_and_the_drivers_errors_are_the_librarys(
    datastore: QueuedSQLiteDatastore,
) -> None:
    with datastore.transaction(commit=False) as cursor:
        cursor.execute("INSERT INTO things VALUES ('not kept')")
    assert names(datastore) == []
    with datastore.transaction(commit=True) as cursor:
        cursor.execute("INSERT INTO things VALUES ('one')")
    with pytest.raises(IntegrityError), datastore.transaction(commit=True) as cursor:
        cursor.execute("INSERT INTO things VALUES ('one')")
    assert names(datastore) == ["one"]


def test_no_generator_is_entered_for_a_transaction(
    datastore: QueuedSQLiteDatastore, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered: list[str] = []
    real_init = contextlib._GeneratorContextManager.__init__

    def counting(self: object, func: object, args: object, kwds: object) -> None:
        entered.append(getattr(func, "__qualname__", "?"))
        real_init(self, func, args, kwds)  # type: ignore[arg-type]

    monkeypatch.setattr(contextlib._GeneratorContextManager, "__init__", counting)
    with datastore.transaction(commit=True) as cursor:
        cursor.execute("INSERT INTO things VALUES ('one')")
    assert entered == [], "the library's two nested generators cost a save more than its block does"
