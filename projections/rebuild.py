"""Rebuild a projection from the whole log while the service keeps running.

The rows are built into shadow tables (`<table>__rebuild`) in short
transactions, so neither readers nor writers of the live tables wait, up to the
head of the log. Then one transaction swaps them in: it locks the live tracking
row (which pauses the projection's runner, wherever it runs), applies the
events that came since into the shadow tables, renames them to the live tables'
names in place of those (projections/swap.py: no row is copied) and sets the
tracking to that head. Readers see the old rows until that commit and the
rebuilt rows after it; the runner then carries on from the new position.

The log is read through each transaction's own connection (log_in_tx.py), and the
shadow tables are built in batches of at least `SHADOW_BATCH` events: a batch's fixed
cost (its transaction, the reads of its rows, one write per table) is paid a few times
per rebuild rather than once per `NM_PROJECTION_BATCH_SIZE` events. The shadow tables are
created in the first batch's transaction; on PostgreSQL the indexes nothing reads during
the build are made at the end of the batch that reaches the head, followed by a batch of
the events appended meanwhile (ADR 0043, fourth addendum). On PostgreSQL a first shadow
batch of `OVERLAPPED` events or more that runs in a pipeline fetches the log's rows first and
then sends the tables' creation in it: the server makes the tables while the client decodes
the events (ADR 0043, fifth addendum). The swap applies only the events appended since the
last committed batch (none on a quiet log), in batches of `NM_PROJECTION_BATCH_SIZE`: the
live projection pauses for those and the renames.

A rebuild runs with the objects alive at its start (the service's modules and caches) set
aside from the cycle collector (`heap_frozen`; ADR 0054). A shadow batch runs with the
collector paused (its events and rows live until it ends), and, for a projection whose tables
are only appended to, outside a pipeline: its rows then go to PostgreSQL by binary COPY
(projections/bulk.py; ADR 0043, second addendum).
On PostgreSQL the shadow tables' transactions commit without waiting for the disk: a crash
may lose only shadow rows, which the next rebuild drops anyway, and the swap's durable commit
flushes them with it (ADR 0043, third addendum).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from nm_workflow.application.errors import ApplicationError
from nm_workflow.application.store import APPLICATION_NAME
from nm_workflow.application.store_errors import translated_errors
from projections.base import Projection
from projections.bulk import streamed
from projections.database import Database
from projections.log_in_tx import LogInTx
from projections.queries import ReadModel
from projections.registry import select
from projections.rows import never_read, starting_empty
from projections.sql import Tx
from projections.swap import creations, execute_all, lock_statement, replace

Progress = Callable[[int, int], None]
SHADOW_BATCH = 5_000
"""Events per transaction while the shadow tables are built (more when the runners' batch is larger)."""
STREAMED = 500
"""Events decoded and applied at a time in a streamed shadow batch (`_apply_streamed`)."""
OVERLAPPED = 100
"""Events from which the first shadow batch's tables are made while they are decoded (PostgreSQL):
with fewer, decoding ends first and the drops' round trip of their own costs more than it hides."""


class RebuildRunning(ApplicationError):
    slug = "rebuild-running"
    title = "The projection is being rebuilt already"


def rebuild(read_model: ReadModel, name: str, progress: Progress | None = None) -> int:
    """Rebuild projection `name`; returns the log position the rebuilt rows reflect."""
    (cls,) = select([name])
    # On the read model's connection for the rebuilds' locks, kept open: connecting cost a
    # rebuild 3-10 ms on PostgreSQL (docs/performance-history.md, "The fixed cost of a rebuild").
    lock, ownership = f"rebuild:{name}", read_model.rebuild_locks
    if not ownership.acquire_once(lock):
        raise RebuildRunning(f"Another process is rebuilding {name}.")
    try:
        with translated_errors(), heap_frozen():
            return _Rebuild(read_model, read_model.projections[cls.name], progress).run()
    finally:
        ownership.release(lock)


class _Rebuild:
    def __init__(self, read_model: ReadModel, projection: Projection, progress: Progress | None) -> None:
        self.db: Database = read_model.db
        self.source = read_model.source  # the head only, read while no write connection is held
        self.log = LogInTx(read_model.store)
        self.recorder = read_model.recorders[projection.name]
        self.projection = projection
        self.batch_size = read_model.settings.projection_batch_size
        self.progress = progress or (lambda _done, _total: None)
        self.position = 0
        self.first: list[str] = []
        """DDL for the start of the next shadow transaction: the drops of the shadow tables."""
        self.created: list[str] = []
        """The shadow tables' creates: sent in the first shadow batch's pipeline once its log rows
        are fetched (`_apply_batch`), or with `first` when that batch has no pipeline or fewer
        than `OVERLAPPED` events."""
        self.last: list[str] = []
        """DDL for the end of the shadow transaction that reaches the head: the unread indexes."""
        self.empty = True  # the shadow tables hold no row yet
        self.append_only = never_read(projection.batch_tables) == set(projection.tables)
        self.streamed = self.append_only and len(projection.schema) == 1 and self.db.is_postgres
        self.creates_in_pipeline = self.db.is_postgres and not self.append_only
        """Whether the first shadow batch, when it has events, sends `created` in a pipeline."""

    def run(self) -> int:
        shadow = self.projection.shadow_tables()
        tables, indexes = creations(self.projection, self.db.dialect, shadow)
        self.first, self.created = self._drops(), tables
        # SQLite's unread indexes are made in the swap (it cannot rename an index).
        self.last = indexes if self.db.is_postgres else []
        try:
            self._build_shadow()
            if self.db.is_postgres:
                self._build_shadow()  # what came during the last batch and its indexes, committed too
            head = self._swap()
        except BaseException:
            with self.db.write(shadow, durable=False) as tx:
                execute_all(tx, self._drops())
            raise
        self.progress(head, head)
        return head

    def _build_shadow(self) -> None:
        # Until the head, in short transactions; the swap applies under lock what came since.
        while (head := self.source.head()) - self.position > self.batch_size:
            self._shadow_batch(head)
        if head > self.position or self.first or self.last:  # the rest (or the DDL alone) committed too
            self._shadow_batch(head)

    def _shadow_batch(self, head: int) -> None:
        """Apply events up to `head` to the shadow tables, in one transaction that first creates
        them (`first` and `created`, the first batch's) and, once they reach the head, makes the
        indexes the build did not read (`last`): one sort of the rows in. Each in a transaction
        of its own cost a round trip for its settings and a commit (docs/performance-history.md,
        "The fixed cost of a rebuild")."""
        with _collector_paused(), self.db.write(self.projection.shadow_tables(), durable=False) as tx:
            size = max(self.batch_size, SHADOW_BATCH)
            stored = self._fetch(tx, head, size) if head > self.position else []
            if len(stored) < OVERLAPPED or not self.creates_in_pipeline:  # made at once, with the drops
                self.first, self.created = self.first + self.created, []
            # Outside the pipeline: psycopg answers a DROP by deallocating every prepared statement.
            execute_all(tx, self.first)
            self.first = []
            if head > self.position:
                with self._pipelined(tx):
                    (self._apply_streamed if self.streamed else self._apply_batch)(tx, head, size, stored)
            if self.position == head:
                execute_all(tx, self.last)
                self.last = []
        self.progress(self.position, head)

    def _pipelined(self, tx: Tx) -> AbstractContextManager[None]:
        # A batch of tables only appended to reads nothing and writes once per table at the end:
        # nothing for a pipeline to overlap, and outside one PostgreSQL takes the rows by COPY.
        return nullcontext() if self.append_only else tx.batched()

    def _swap(self) -> int:
        shadow = self.projection.shadow_tables()
        with self.db.write(self.projection.live_tables()) as tx:
            with tx.batched():
                # The runner's order: its batch moves the tracking row, then touches the tables
                # (projections/batches.py). The renames' lock on the live tables, taken before the
                # row, would wait for a batch that waits for the row: a deadlock.
                self.recorder.lock(tx, APPLICATION_NAME)
                if self.db.is_postgres:
                    tx.execute(lock_statement(self.projection))
                head = self.log.head(tx)
                while self.position < head:
                    self._apply_batch(tx.with_tables(shadow), head, self.batch_size)
                self.recorder.reset(tx, APPLICATION_NAME, head)
            # Never in a pipeline: psycopg answers DDL by deallocating every prepared statement,
            # which a pipeline may have just prepared.
            replace(tx, self.projection)
        return head

    def _fetch(self, tx: Tx, head: int, size: int) -> list[Any]:
        return self.log.fetch(tx, self.position, head, self.projection.topics, size)

    def _apply_batch(self, tx: Tx, head: int, size: int, stored: list[Any] | None = None) -> None:
        """Apply the next `size` events up to `head`: `stored`, the log's rows when fetched already."""
        stored = self._fetch(tx, head, size) if stored is None else stored
        self._create_meanwhile(tx)
        batch = self.log.decoded(stored)
        if self.empty:  # nothing to read of the batch's rows: the shadow tables are new
            starting_empty(tx, self.projection.batch_tables)
            self.empty = not batch
        self.projection.apply(tx, batch)
        self.position = batch[-1].position if len(batch) == size else head

    def _create_meanwhile(self, tx: Tx) -> None:
        """Send the shadow tables' creates (`created`, the first batch's) in the batch's pipeline
        without waiting for their answers: PostgreSQL makes the tables (version 15 syncs each new
        index's file to disk) while the client decodes the events just fetched. The batch's first
        statement on a shadow table waits for them, the pipeline keeping the order; a failed
        create fails the batch like any of its statements. On a cursor of its own (their answers
        are not the batch's reads); not prepared (each text runs once per rebuild)."""
        creates, self.created = self.created, []
        if creates:
            own = tx.own_cursor().raw
            for statement in creates:
                own.execute(statement, prepare=False)

    def _apply_streamed(self, tx: Tx, head: int, size: int, stored: list[Any]) -> None:
        """`_apply_batch` for a projection of one table only appended to, on PostgreSQL: the log's
        rows (`stored`) fetched whole, then decoded and applied `STREAMED` events at a time, their
        rows going into one COPY that the server inserts while the client decodes the next ones."""
        (table,) = self.projection.schema
        with streamed(tx, tx.tables[table.name], table.columns):
            for first in range(0, len(stored), STREAMED):
                self.projection.apply(tx, self.log.decoded(stored[first : first + STREAMED]))
        self.empty = self.empty and not stored  # (nothing read back: no table to say empty)
        self.position = stored[-1]["id"] if len(stored) == size else head

    def _drops(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {table}" for table in self.projection.shadow_tables().values()]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off for one shadow batch: its thousands of events and rows, all
    alive until the batch ends, made it run hundreds of times a batch for nothing to collect
    (10-15% of an `audit_trail` rebuild's CPU). Process-wide, for the batch only; left off when
    it was off."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@contextmanager
def heap_frozen() -> Iterator[None]:
    """The objects alive when the block starts set aside from the cycle collector until it ends
    (`gc.freeze`): a full collection that fell due in a rebuild scanned the whole heap, some
    60,000-120,000 objects of the service's modules, 30-90 ms of CPU on the benchmark's machine,
    enough to halve a rebuild of a tenth of a second (ADR 0054). Objects made in the block are
    collected as usual; the frozen ones go back to the oldest generation at its end, to be scanned
    at the process's next full collection, outside the rebuild. Left as it is when objects were
    frozen already (by the process, or by a rebuild running meanwhile in another thread)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
