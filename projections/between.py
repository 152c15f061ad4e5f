"""Rows a projection keeps in memory from one batch to the next, trusted only where nobody else wrote.

A batch reads the rows it changes (projections/rows.py) and writes them back; the next batch
of the same process would read them again, as it wrote them, unless someone else wrote its
tables meanwhile. What it wrote is kept here (`put`), and given to the next batch as if read
(`seed`) only when the batch's own tracking statement tells that nobody did (ADR 0063):

- the batch starts where the kept rows' batch ended: another process running the projection
  moves the tracking past that position (positions only grow), and a batch that failed
  never got there, as its transaction rolled back and `committed` was not called;
- the tracking row is of the same generation: a rebuild's swap puts in tables built by
  another process, with its own settings, at a position that can be the very one held here;
  its `reset` starts a new generation (projections/tracking.py);
- and the batch writes the live tables: a rebuild's batches into its shadow tables, in this
  process too, neither read nor change what is kept.

Anything else clears what is kept; a row not kept is read from the database as before. The
kept rows are the values the batch wrote (not copies): the next batch changes them in place,
which is safe as a batch that uses them stops trusting them first, and they are trusted again
only once it committed. Each table keeps at most a number of rows of its own, the least recently used ones
dropped.
One batch at a time: the runner's thread is the only one that moves a projection's live
tables in a process.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from projections.rows import Key, Keyed, known
from projections.sql import Row, Tx
from projections.tracking import Generation


class KeptBetweenBatches:
    """The rows of some `Keyed` tables as the process's last committed batch left them."""

    def __init__(self, capacities: Mapping[Keyed, int]) -> None:
        """`capacities`: the tables whose rows are kept, and how many rows each at most."""
        self._capacities = {spec.table.name: capacity for spec, capacity in capacities.items()}
        self._rows: dict[str, OrderedDict[Key, Row]] = {name: OrderedDict() for name in self._capacities}
        self._at: tuple[int, int] | None = None
        """(position, generation) of the tracking the kept rows are those of; None: none trusted."""
        self._open: Callable[[], Generation] | None = None
        """The generation of the batch now running (between `begin` and `committed`)."""
        self._start = 0
        self._checked = False
        """Whether the running batch compared its start and generation with `_at` yet."""

    def begin(self, start: int, generation: Callable[[], Generation]) -> None:
        """A batch from `start`, whose tracking statement answers `generation`: asked for only when
        the batch uses the rows (on PostgreSQL its answer is waited for then). A batch begun before
        that did not commit used rows only once `_check` stopped trusting them."""
        self._open, self._start, self._checked = generation, start, False

    def committed(self, target: int) -> None:
        """The batch begun last committed, its tracking at `target`."""
        generation = self._open
        if generation is None:
            return
        self._check()  # (a batch that used no row: what it kept is still as the tables are, or not)
        self._open = None
        moved = generation()
        if moved is None:  # (its transaction would not have committed)
            self._untrusted()
            return
        self._at = (target, moved)
        for name, rows in self._rows.items():
            while len(rows) > self._capacities[name]:
                rows.popitem(last=False)

    def usable(self, tx: Tx) -> bool:
        """Whether the batch in `tx` may use and keep rows: the runner's batch of the live tables.
        Any other write of the live tables (outside a batch begun here) drops them."""
        live = all(tx.tables.get(name) == name for name in self._rows)
        if live and self._open is None:
            self._untrusted()
        if not live or self._open is None:
            return False
        self._check()
        return True

    def _check(self) -> None:
        """Drop the rows unless the running batch starts where they were kept, in their generation;
        trust none until it commits."""
        if self._checked:
            return
        at, self._at, self._checked = self._at, None, True
        if at is None or at[0] != self._start or at[1] != self._open_generation():
            self._untrusted()

    def _open_generation(self) -> Generation:
        assert self._open is not None
        return self._open()

    def seed(self, tx: Tx, spec: Keyed, keys: Iterable[Key]) -> None:
        """Give the batch in `tx` the kept rows of `keys` as read: only the others are read."""
        rows = self._rows[spec.table.name]
        found = {}
        for key in keys:
            row = rows.get(key)
            if row is not None:
                rows.move_to_end(key)
                found[key] = row
        if found:
            known(tx, spec, found)

    def put(self, spec: Keyed, key: Key, row: Row | None) -> None:
        """Keep `row` as the batch writes it for `key` (None: deleted, no longer kept)."""
        rows = self._rows[spec.table.name]
        if row is None:
            rows.pop(key, None)
        else:
            rows[key] = row
            rows.move_to_end(key)

    def _untrusted(self) -> None:
        self._at = None
        for rows in self._rows.values():
            rows.clear()
