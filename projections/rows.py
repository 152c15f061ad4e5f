"""A batch's rows of a projection's table, read at most once and written once per batch.

A handler that read the row it is about to change with its own statement waited for
the database once per event (a round trip on PostgreSQL, a statement's Python work on
SQLite), and wrote with statements of its own. Tables declared here instead are kept
in memory for one batch (`Projection.apply`):

- before the first event, the rows of every aggregate of the batch are read in one
  statement per table (`prefetch`); a row read later is read once, then kept; an
  aggregate created in the batch has no row to read, and on SQLite a batch's single
  aggregate is read only as the handlers ask (ADR 0037, last addendum);
- handlers read and change the rows in memory, so an event sees what the earlier
  events of the same batch wrote;
- after the last event, each table's changes are written with one `executemany` per
  statement (`flush`): a table keyed by its primary key (and no other unique index, but one
  of columns a row never changes: `Index.fixed`, ADR 0073) has its changed rows upserted and
  only its deleted keys deleted (ADR 0056), another its changed keys deleted and their rows
  inserted; added rows inserted. The tables end as the statements one by one would have left
  them.

What is kept lives in the batch's `Tx` (`Tx.batch_rows`) and is dropped after the
flush, or when the batch fails: a rolled-back transaction leaves nothing behind, and
the next batch reads the database again.

Rows are held decoded (`Table.decode`: datetime, UUID, parsed JSON); keys are tuples
of the key columns' decoded values, e.g. `(UUID(...),)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from nm_workflow.application.ids import id_text
from projections.schema import Table, insert_many
from projections.sql import POSTGRES, Row, Tx

Key = tuple[Any, ...]
_IDS_PER_STATEMENT = 500  # well under SQLite's limit of bound parameters


@dataclass(frozen=True)
class Keyed:
    """A table with at most one row per `key` (columns, the first one the id of the aggregate
    whose events make the row: a row is never made for an aggregate before its first event;
    a table only put and deleted, never read, may have any key)."""

    table: Table
    key: tuple[str, ...]

    def get(self, tx: Tx, key: Key) -> Row | None:
        """The row of `key` as the batch left it so far, or None."""
        rows = _state(tx, self).rows(tx, key)
        return rows[0] if rows else None

    def put(self, tx: Tx, row: Row) -> None:
        """Insert or replace the row of `row`'s key (every column given)."""
        _state(tx, self).replace(tuple(row[c] for c in self.key), [row])

    def delete(self, tx: Tx, key: Key) -> None:
        _state(tx, self).replace(key, [])


@dataclass(frozen=True)
class Appended:
    """A table whose rows are only added; read by `key` (columns, the first one the aggregate's
    id; not unique), or never read when `key` is empty."""

    table: Table
    key: tuple[str, ...] = ()

    def add(self, tx: Tx, row: Row) -> None:
        _state(tx, self).add(tuple(row[c] for c in self.key) if self.key else (), row)

    def rows(self, tx: Tx, key: Key) -> list[Row]:
        """The rows of `key`, stored and added, in no particular order."""
        return list(_state(tx, self).rows(tx, key))


Spec = Keyed | Appended


def never_read(specs: Sequence[Spec]) -> set[str]:
    """The tables of `specs` whose rows are only added, never read back (`Appended` without key)."""
    return {spec.table.name for spec in specs if isinstance(spec, Appended) and not spec.key}


def prefetch(tx: Tx, specs: Sequence[Spec], ids: Iterable[Any]) -> None:
    """Read the rows of the aggregates `ids` from each of `specs` (those read by key), a few
    hundred ids per statement, every statement sent before the first answer is waited for.

    On SQLite, the rows of a single aggregate are left to be read when a handler asks: there
    a statement waits for nothing, so reading on demand costs at most the statements of the
    prefetch, and fewer when the batch's events need only some of the tables (a batch of one
    command, the common case while the API runs)."""
    keyed = [spec for spec in specs if spec.key]
    wanted = sorted(set(ids), key=id_text) if keyed else []  # (a sort of every id of the batch)
    if tx.dialect is not POSTGRES and len(wanted) < 2:
        return
    pending = [_state(tx, spec).load_later(tx, wanted) for spec in keyed]
    for receive in pending:
        receive()


@contextmanager
def kept_for_the_batch(
    tx: Tx, specs: Sequence[Spec], ids: Iterable[Any], created: Iterable[Any] = ()
) -> Iterator[None]:
    """Inside: the rows of the aggregates `ids` in `specs` are prefetched and kept. On leaving,
    what the batch changed is written (`flush`); when the block fails, nothing is kept
    (`forget`): its transaction rolls back, and none of the batch's rows may outlive it.

    `created`: aggregates whose first event is in the batch. No row of theirs can be stored
    yet (a key's first column is the aggregate whose events make its rows), so none is read
    for them, and their keys are inserted without a DELETE first."""
    fresh = set(created)
    if fresh:
        for spec in specs:
            if spec.key:
                _state(tx, spec).created(fresh)
    prefetch(tx, specs, ids)
    try:
        yield
    except BaseException:
        forget(tx)
        raise
    flush(tx)


def flush(tx: Tx) -> None:
    """Write what the batch changed, table by table; then forget the rows."""
    try:
        for state in tx.batch_rows.values():
            state.write(tx)
    finally:
        forget(tx)


def forget(tx: Tx) -> None:
    """Drop the batch's rows without writing them (the batch failed)."""
    tx.batch_rows.clear()


def known(tx: Tx, spec: Keyed, rows: dict[Key, Row]) -> None:
    """Say, before the batch reads them, what the stored rows of `rows`' keys are (kept from an
    earlier batch: projections/between.py): they are not read. `spec` is keyed by one column."""
    assert len(spec.key) == 1, "a key of several columns: other rows of its first column may be stored"
    state = _state(tx, spec)
    for key, row in rows.items():
        state.known[key] = [row]
        state.loaded.add(key[0])


def starting_empty(tx: Tx, specs: Sequence[Spec]) -> None:
    """Say, before a batch, that the tables of `specs` are empty (a rebuild's first batch into
    its new shadow tables): no row is read for the batch, there is none to read."""
    for spec in specs:
        _state(tx, spec).complete = True


def _selects(tx: Tx, table: Table, column: str, ids: Sequence[Any]) -> Iterator[tuple[str, Row]]:
    """Statements reading the rows of `table` whose `column` is one of `ids`. On PostgreSQL one,
    the ids as one array: a statement text psycopg parses once, whatever the number of ids
    (500 placeholders cost more to parse than the read). On SQLite a few hundred ids each."""
    select = f"SELECT * FROM {{{table.name}}} WHERE {column} "  # noqa: S608
    if tx.dialect is POSTGRES:
        if ids:
            yield select + "= ANY(:ids)", {"ids": [tx.dialect.param(i) for i in ids]}  # each as `execute`
        return
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        params = {f"id{n}": i for n, i in enumerate(ids[start : start + _IDS_PER_STATEMENT])}
        yield select + f"IN ({', '.join(':' + name for name in params)})", params


def _locking_order(key: Key) -> str:
    """`str(key)`, each UUID in it written from its cached text (`UUID.__repr__` formats the
    number in Python at every call): the order replaced rows are written, and locked, in."""
    shown = [f"UUID('{id_text(part)}')" if type(part) is UUID else repr(part) for part in key]
    return f"({shown[0]},)" if len(shown) == 1 else f"({', '.join(shown)})"


def _state(tx: Tx, spec: Spec) -> _TableRows:
    name = tx.tables[spec.table.name]
    found = tx.batch_rows.get(name)
    if found is None:
        found = tx.batch_rows[name] = _TableRows(spec)
    assert isinstance(found, _TableRows)
    return found


class _TableRows:
    """One table's rows in one batch."""

    def __init__(self, spec: Spec) -> None:
        self.spec, self.table = spec, spec.table
        self.known: dict[Key, list[Row]] = {}
        self.loaded: set[Any] = set()  # ids (first key column) whose stored rows are all known
        self.new: set[Any] = set()  # ids (first key column) with no stored row: created in the batch
        self.replaced: set[Key] = set()  # keys whose stored rows are deleted, their known rows inserted
        self.added: list[Row] = []
        self.complete = False  # every stored row is known: the table was empty when the batch began
        table = spec.table
        self._upserted = set(spec.key) == set(table.primary_key) and not any(
            i.unique and not i.fixed for i in table.indexes
        )

    def rows(self, tx: Tx, key: Key) -> list[Row]:
        unknown = not self.complete and key[0] not in self.loaded
        if unknown and key not in self.replaced:  # a replaced key's rows are known
            self.load(tx, [key[0]])
        return self.known.get(key, [])

    def load(self, tx: Tx, ids: Sequence[Any]) -> None:
        self.load_later(tx, ids)()

    def load_later(self, tx: Tx, ids: Sequence[Any]) -> Callable[[], None]:
        """Ask for the stored rows of `ids` now; keep them when the returned function is called."""
        ids = [] if self.complete else [i for i in ids if i not in self.loaded]
        answers = [
            tx.all_later(sql, params) for sql, params in _selects(tx, self.table, self.spec.key[0], ids)
        ]
        self.loaded.update(ids)

        def receive() -> None:
            for answer in answers:
                for raw in answer():
                    row = self.table.decode(tx.dialect, raw)
                    key = tuple(row[c] for c in self.spec.key)
                    if key not in self.replaced:  # a replaced key's rows are the batch's own
                        self.known.setdefault(key, []).append(row)

        return receive

    def created(self, ids: set[Any]) -> None:
        """`ids` have no stored row: none to read, none to delete."""
        self.new |= ids
        self.loaded |= ids

    def replace(self, key: Key, rows: list[Row]) -> None:
        self.known[key] = rows
        self.replaced.add(key)

    def add(self, key: Key, row: Row) -> None:
        if self.spec.key:
            self.known.setdefault(key, []).append(row)
        self.added.append(row)

    def write(self, tx: Tx) -> None:
        name = "{" + self.table.name + "}"
        if self.replaced:
            replaced = sorted(self.replaced, key=_locking_order)  # one order of row locks in every process
            # Keyed by the primary key: a replaced row is upserted, only a deleted one is DELETEd.
            # Not beside another unique index, unless its columns are fixed: rows updated one by
            # one could meet each other's old values there (two rows swapping one), which deleting
            # them all first allowed.
            upsert = not self.complete and self._upserted
            if not self.complete:  # a table empty when the batch began has nothing stored to delete
                gone = [key for key in replaced if key[0] not in self.new]
                self._delete(tx, name, [key for key in gone if not self.known[key]] if upsert else gone)
            rows = [row for key in replaced for row in self.known[key]]
            insert_many(tx, self.table, rows, upsert=upsert)
        self._insert(tx, self.added)

    def _delete(self, tx: Tx, name: str, keys: list[Key]) -> None:
        """DELETE the stored rows of `keys`. On PostgreSQL, by a key of one column, one statement
        (the keys as one array: a batch replaces several rows of `quarterly_evaluation_state`);
        else one per key, in one call."""
        columns = self.spec.key
        if tx.dialect is POSTGRES and len(columns) == 1:
            if keys:  # each key as `execute` sends a value (PostgreSQL's text holds no NUL)
                ids = [tx.dialect.param(key[0]) for key in keys]
                tx.execute(f"DELETE FROM {name} WHERE {columns[0]} = ANY(:ids)", {"ids": ids})  # noqa: S608
            return
        where = " AND ".join(f"{c} = :{c}" for c in columns)
        rows = [dict(zip(columns, key, strict=True)) for key in keys]
        tx.execute_many(f"DELETE FROM {name} WHERE {where}", rows)  # noqa: S608

    def _insert(self, tx: Tx, rows: list[Row]) -> None:
        insert_many(tx, self.table, rows)
