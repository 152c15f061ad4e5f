"""Applying the log to projections in batches, exactly once: alone, or several from one read.

A `Builder` moves one projection: in a transaction it checks and advances the
projection's tracking row (tracking.py) and applies the events between the old
and the new position. A `SharedReader` moves several projections with one read
of the log and one transaction for all of them (on SQLite one per about a
millisecond of their work: its write turn is the commands' too), instead of one
read and one transaction each; the runner (runner.py) falls back to each projection alone
when that transaction fails, so that one failing projection never holds the
others back. Either way a projection's rows and its tracking commit together, and
without waiting for the disk (ADR 0052): a batch an operating system's crash loses
is applied again from the tracking, which it did not move either.

Positions are read as "greater than the tracked one, up to the head seen
before the read": the store's inserts lock the events table, so once the head
is visible every lower position is settled, and gaps left by rolled-back
inserts are simply never returned. When a projection's topics have no event up
to that head, its tracking still moves to the head, so `wait_for` any position
works for every projection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nm_workflow.application.metrics import PROJECTION_EVENTS_APPLIED, PROJECTION_LAG_EVENTS
from nm_workflow.application.store import APPLICATION_NAME
from projections.base import Projection, Recorded
from projections.database import Database
from projections.planned import PLANNED, REPLACED, Plan, plans, tally
from projections.readside import EventSource, Recorder
from projections.sql import Tx
from projections.tracking import Generation, advance_together

SQLITE_TURN_SECONDS = 0.001
"""SQLite has one writer at a time, and a command's commit waits for the turn: a batch's
projections are written in transactions of about this much work each (a projection's share is not
split), the turn given back between them. One transaction per batch held it for about 7 ms a batch
at one client, and a command that came meanwhile waited for the rest (ADR 0080)."""


class TrackingMoved(Exception):
    """A shared batch found projections whose tracking another process or a rebuild had moved."""


class Builder:
    """Moves one projection's live tables forward; remembers its position between batches.

    The remembered position is only a guess, checked by the tracking row in every
    transaction: when another process (or a rebuild's swap) moved the row, the batch
    writes nothing and the position is read again.
    """

    def __init__(
        self, projection: Projection, recorder: Recorder, db: Database, source: EventSource, batch_size: int
    ) -> None:
        self.projection, self.recorder, self.db, self.source = projection, recorder, db, source
        self.batch_size = batch_size
        self._topics = frozenset(projection.topics)  # empty: every event
        self._position: int | None = None
        self._applied = PROJECTION_EVENTS_APPLIED.labels(projection.name)
        self._lag = PROJECTION_LAG_EVENTS.labels(projection.name)
        self._lag_set: int | None = None
        self._kept = projection.kept_between_batches

    @property
    def name(self) -> str:
        return self.projection.name

    @property
    def position(self) -> int:
        """The log position the projection's tables reflect (as last seen by this builder)."""
        if self._position is None:
            self._position = self.recorder.position(APPLICATION_NAME)
        return self._position

    def stage(self, tx: Tx, batch: Sequence[Recorded], target: int) -> int | None:
        """In `tx`: apply `batch`'s events after the position, up to `target`, and move the tracking
        there. The number of events applied; None when the tracking was elsewhere (nothing written).
        Call `committed` once `tx` has committed."""
        generation = self.recorder.advance(tx, APPLICATION_NAME, self.position, target)
        if generation is None:
            self._position = None
            return None
        return self.apply(tx, batch, target, lambda: generation)

    def apply(
        self, tx: Tx, batch: Sequence[Recorded], target: int, generation: Callable[[], Generation]
    ) -> int:
        """In `tx`: apply `batch`'s events after the position, up to `target`, without moving the
        tracking (the caller moves it first, in `tx`; `generation` answers its move); the number
        of events applied."""
        start, topics = self.position, self._topics
        # Most projections have no event in most batches: their topics tried first, inline (a
        # method call per event and projection was about 1.6% of a batch of sixty).
        if topics:
            events = [r for r in batch if r.topic in topics and start < r.position <= target]
        else:
            events = [r for r in batch if start < r.position <= target]
        if self._kept is not None:
            self._kept.begin(start, generation)
        if events:
            self.projection.apply(tx, events)
        return len(events)

    def forget_position(self) -> None:
        """Read the position from the tracking row next time (it moved elsewhere)."""
        self._position = None

    def committed(self, target: int, applied: int) -> None:
        self._position = target
        if self._kept is not None:
            self._kept.committed(target)
        if applied:  # most projections have no event in most batches
            self._applied.inc(applied)

    def report_lag(self, head: int) -> None:
        lag = max(head - self.position, 0)
        if lag != self._lag_set:  # a gauge's set takes a lock: only when it changes
            self._lag.set(lag)
            self._lag_set = lag

    def step(self) -> bool:
        """Apply the next batch of this projection's own events alone; False when caught up."""
        self._position = None  # alone means after a failure or a race: ask the tracking row
        head = self.source.head()
        self.report_lag(head)
        position = self.position
        if position >= head:
            return False
        batch = self.source.read(position, head, self.projection.topics, self.batch_size)
        target = batch[-1].position if len(batch) == self.batch_size else head
        tables = self.projection.live_tables()
        with self.db.write(tables, durable=False, generic_plans=True) as tx, tx.batched():
            applied = self.stage(tx, batch, target)
        if applied is not None:
            self.committed(target, applied)
        return True

    def catch_up(self) -> None:
        """Apply batches until the head seen at the start of each step is reached."""
        while self.step():
            pass


class SharedReader:
    """One read of the log per batch, for several projections at once, and one transaction (on
    SQLite one per about `turn_seconds` of their work)."""

    def __init__(
        self,
        builders: Sequence[Builder],
        db: Database,
        source: EventSource,
        batch_size: int,
        turn_seconds: float | None = SQLITE_TURN_SECONDS,
        beat: Callable[[], None] = lambda: None,
    ) -> None:
        """`turn_seconds`: on SQLite, about how much work a transaction does before the write turn
        is given back (None: a batch in one transaction); PostgreSQL writes a batch in one.
        `beat` is called before each transaction, which may wait for the write lock as long as
        allowed (the runner's watchdog counts one such wait between two beats)."""
        self.db, self.source, self.batch_size = db, source, batch_size
        self._beat = beat
        self.written: list[Builder] = []
        """The builders the last `step` moved: all it moved when it returned; those of the
        transactions before the failing one when it raised (on SQLite, where a batch is in parts)."""
        self.behind: bool = False
        """Whether the last `step` read a full batch: more events wait beyond it."""
        self._turn_seconds = None if db.is_postgres else turn_seconds
        # Every builder's tables, always: one statement text per handler whichever builders move.
        self._tables = {t: t for b in builders for t in b.projection.live_tables()}
        self._topics_of: dict[tuple[Builder, ...], list[str]] = {}  # by the builders asked

    def step(self, builders: Sequence[Builder]) -> bool:
        """Move the `builders` behind the head by one batch; False when none is.

        The batch is read once and written in one transaction, or on SQLite in several when it
        is more than `turn_seconds` of work (`_write`). It starts at the lowest position among
        them; one further ahead skips the events it has, and waits (at no cost) until the others
        pass it. Raises what any of them raises, with nothing of its transaction written (those
        of the transactions before it stay: each projection's rows commit with its tracking).

        When they are all at one position and one of them handles every event, the read
        itself finds the head: a batch short of `batch_size` ends at the head (a visible
        position settles every lower one), and an empty one says that none is behind. The
        head is then read only while catching up (a full batch), for the lag. Otherwise it is
        read first: the target of those with no event of their topics up to it, and what
        says which are behind, whose topics alone are read (one lagging projection does not
        make the others read every event).
        """
        self.written, self.behind = [], False
        start = min(b.position for b in builders)
        head: int | None = None
        behind = list(builders)
        if self._topics(builders) or any(b.position != start for b in builders):
            head = self.source.head()
            behind = [b for b in builders if b.position < head]
            start = min((b.position for b in behind), default=head)
        batch = self.source.read(start, head, self._topics(behind), self.batch_size) if behind else []
        full = len(batch) == self.batch_size
        if head is None:
            head = self.source.head() if full else batch[-1].position if batch else start
        for builder in builders:
            builder.report_lag(head)
        target = batch[-1].position if full else head
        moving = [b for b in behind if b.position < target]
        if not moving:
            return False
        # On SQLite worked out before the write turn, and only written under it (ADR 0086).
        planned = {} if self._turn_seconds is None else plans(self.db, moving, batch, target)
        while moving:  # on SQLite in parts: see `_write`
            moving = moving[self._write(moving, batch, target, planned) :]
        self.behind = full
        return True

    def _write(
        self, moving: list[Builder], batch: Sequence[Recorded], target: int, planned: dict[str, Plan]
    ) -> int:
        """Move the first of `moving` to `target` in one transaction: how many moved (all of them,
        or on SQLite as many as fit in about `turn_seconds` of work, at least one), each by its
        plan in `planned` where its tables are the plan's."""
        self._beat()
        try:
            with self.db.write(self._tables, durable=False, generic_plans=True) as tx, tx.batched():
                if self._turn_seconds is None:
                    counts = self._all_at_once(tx, moving, batch, target)
                else:
                    seconds = self._turn_seconds
                    counts = self._while_the_turn_lasts(tx, moving, batch, target, seconds, planned)
        except BaseException:
            for builder in moving:  # a race shows as a rolled-back write too: ask the rows again
                builder.forget_position()
            raise
        for builder, count in zip(moving, counts, strict=False):
            builder.committed(target, count)
            self.written.append(builder)
        return len(counts)

    @staticmethod
    def _all_at_once(tx: Tx, moving: list[Builder], batch: Sequence[Recorded], target: int) -> list[int]:
        # Every tracking row first, in one statement on PostgreSQL (tracking.py); its answer is
        # waited for after the events are sent: the batch is one round trip.
        moved = advance_together(tx, APPLICATION_NAME, [(b.recorder, b.position) for b in moving], target)
        counts = [b.apply(tx, batch, target, _nth(moved, n)) for n, b in enumerate(moving)]
        elsewhere = [b.name for b, ok in zip(moving, moved(), strict=True) if ok is None]
        if elsewhere:  # another process or a rebuild moved them: roll back
            raise TrackingMoved(", ".join(elsewhere))
        return counts

    @staticmethod
    def _while_the_turn_lasts(
        tx: Tx,
        moving: list[Builder],
        batch: Sequence[Recorded],
        target: int,
        seconds: float,
        planned: dict[str, Plan],
    ) -> list[int]:
        started, counts = time.monotonic(), []
        for builder in moving:
            moved = advance_together(tx, APPLICATION_NAME, [(builder.recorder, builder.position)], target)
            generation = moved()[0]
            if generation is None:  # another process or a rebuild moved it: roll back
                raise TrackingMoved(builder.name)
            plan = planned.get(builder.name)
            if plan is not None and plan.generation == generation:  # the tables the plan read
                plan.run(tx)
                counts.append(plan.applied)
                tally(builder.name, PLANNED)
            else:
                counts.append(builder.apply(tx, batch, target, _nth(moved, 0)))
                if plan is not None:
                    tally(builder.name, REPLACED)
            if time.monotonic() - started >= seconds:
                break
        return counts

    def _topics(self, builders: Sequence[Builder]) -> list[str]:
        """The topics any of them handles; [] (every topic) when one handles every event."""
        chosen = tuple(builders)
        found = self._topics_of.get(chosen)
        if found is None:
            topics = [b.projection.topics for b in builders]
            found = [] if any(not t for t in topics) else sorted({topic for ts in topics for topic in ts})
            self._topics_of[chosen] = found
        return found


def _nth(answers: Callable[[], list[Generation]], n: int) -> Callable[[], Generation]:
    """The `n`-th projection's generation, asked of the batch's one tracking statement only when
    called (on PostgreSQL not waited for before the batch's reads)."""
    return lambda: answers()[n]
