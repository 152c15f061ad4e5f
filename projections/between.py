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
which is safe as a batch takes them over (`begin`) and they are trusted again only once it
committed. Each table keeps at most a number of rows of its own, the least recently used ones
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

    def begin(self, start: int, generation: Callable[[], Generation]) -> None:
        """A batch from `start`, whose tracking statement answers `generation` (waited for only
        when rows are kept at that position)."""
        at, self._at, self._open = self._at, None, generation
        if at is None or at[0] != start or at[1] != generation():
            self._clear()

    def committed(self, target: int) -> None:
        """The batch begun last committed, its tracking at `target`."""
        if self._open is None:
            return
        generation, self._open = self._open(), None
        if generation is None:  # (its transaction would not have committed)
            self._clear()
            return
        self._at = (target, generation)
        for name, rows in self._rows.items():
            while len(rows) > self._capacities[name]:
                rows.popitem(last=False)

    def usable(self, tx: Tx) -> bool:
        """Whether the batch in `tx` may use and keep rows: the runner's batch of the live tables.
        Any other write of the live tables (outside a batch begun here) clears them."""
        live = all(tx.tables.get(name) == name for name in self._rows)
        if live and self._open is None:
            self._clear()
        return live and self._open is not None

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

    def _clear(self) -> None:
        for rows in self._rows.values():
            rows.clear()
