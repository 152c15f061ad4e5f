"""Runners: the projections of a process follow the log in one thread, exactly once.

One code path for both databases. The thread reads the log once for all the
projections this process owns and applies each batch to all of them in one
transaction (on SQLite in one per about a millisecond of work: batches.py); a
projection whose batch fails is rolled back, shown
as failing (failures.py) and retried alone with backoff, while the others go on
together. Between batches the thread sleeps until the log grows: this process's
own saves signal it at once (`EventStore.appended`), other processes' through
PostgreSQL's LISTEN (wakeup.py) or SQLite's data version (wakeup_sqlite.py), and
should those fail it looks again every `NM_PROJECTION_POLL_INTERVAL` seconds.
A process that owns none of its projections (another one does) watches nothing and
wakes only to try to take them over (ADR 0062).
See ADR 0011, 0030 and 0045.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import APPLICATION_NAME, EventStore
from projections.batches import Builder, SharedReader, TrackingMoved
from projections.failures import FailureLog
from projections.ownership import Ownership
from projections.queries import ReadModel
from projections.readside import ProjectionStatus
from projections.registry import select
from projections.wakeup import AppendWatch, LogListener
from projections.wakeup_sqlite import DataVersionWatcher
from projections.webhook_delivery import webhook_run

log = logging.getLogger("projections")
STANDBY_SECONDS = 2.0
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0


class _Lane:
    """One projection in this process's runner: its builder, and what `status` shows of it."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self.state: str = "stopped"
        self.last_error: str | None = None
        self.failing = False
        self.retry_at = 0.0
        self.backoff = FIRST_BACKOFF_SECONDS
        # A failure recorded by a process that stopped is cleared by the next owner's first batch.
        self.recorded_failure = True

    @property
    def name(self) -> str:
        return self.builder.name

    @property
    def lock(self) -> str:
        return f"projection:{self.name}"


class _Runner:
    """The thread that works this process's projections; it calls `beat` before each pass and before
    each write that may wait for the lock on its own (a projection's batch tried alone, a failure
    recorded or cleared), so that a watchdog sees it stuck (interface/projection_worker.py)."""

    def __init__(self, lanes: list[_Lane], reader: SharedReader, read_model: ReadModel, ownership: Ownership,
                 watch: AppendWatch, settings: Settings, beat: Callable[[], None]) -> None:  # fmt: skip
        self.lanes, self.reader, self.ownership, self.settings = lanes, reader, ownership, settings
        self.watch, self.beat = watch, beat
        self.failures: FailureLog = read_model.failures
        self.signal = read_model.store.appended
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="projections", daemon=True)
        self._claim_at = 0.0

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.beat()
            behind = False
            try:
                behind = self._pass()
            except Exception:  # the last guard: a dead thread would leave every projection behind
                log.exception("A pass over the projections failed; trying again")
                self.stopping.wait(FIRST_BACKOFF_SECONDS)
            # Let the appends of a burst gather: one pass over many events costs the API process
            # far less than one pass per event (ADR 0030). Behind the head a full batch already
            # waits: gathering would only add its time to each batch of a catch-up.
            if not behind:
                self.stopping.wait(self.settings.projection_gather_seconds)
        for lane in self.lanes:
            if lane.state != "standby":
                self.ownership.release(lane.lock)
            lane.state = "stopped"

    def _pass(self) -> bool:
        """Claim, retry what fails, apply a batch; then sleep until there may be more. True when
        the batch was full: more events wait beyond it."""
        seen = self.signal.count  # before reading the head: an append after it is not missed
        owned = self._claim()
        moved = self._retry_failing(owned)
        healthy = [lane for lane in owned if not lane.failing]
        stepped = bool(healthy) and self._step(healthy)
        moved = stepped or moved
        if not owned:  # on standby: appends are another process's work; wake only to claim
            self.stopping.wait(self._idle_seconds(owned))
        elif not moved:
            self.signal.wait(seen, self._idle_seconds(owned))
        return stepped and self.reader.behind

    def _claim(self) -> list[_Lane]:
        """The lanes this process owns; the others are tried again every STANDBY_SECONDS."""
        now = time.monotonic()
        claiming = now >= self._claim_at
        if claiming:
            self._claim_at = now + STANDBY_SECONDS
        for lane in self.lanes:
            if lane.state != "standby" or claiming:
                self.beat()  # each may try to connect (PostgreSQL's advisory lock) for as long as allowed
                lane.state = "running" if self.ownership.acquire(lane.lock) else "standby"
        owned = [lane for lane in self.lanes if lane.state == "running"]
        self.watch.want(bool(owned))
        if claiming:
            self._adopt_failures(owned)
        return owned

    def _adopt_failures(self, owned: list[_Lane]) -> None:
        """Have the next batch clear a failure shown for a lane this process runs healthy. Its
        previous owner wrote it: that owner's last attempt, stuck while the database was down,
        can record its failure after this process took the lane over and cleared what it found."""
        try:
            shown = self.failures.current()
        except Exception:  # the database may be what fails: the next claim looks again
            return
        for lane in owned:
            if lane.name in shown and not lane.failing:
                lane.recorded_failure = True

    def _step(self, lanes: list[_Lane]) -> bool:
        before: list[int] | None = None
        try:
            # A position unknown since a failed batch is read again here: the database may be down.
            before = [lane.builder.position for lane in lanes]
            moved = self.reader.step([lane.builder for lane in lanes])
        except Exception as error:  # rolled back: each alone, to find which fails or where each is
            self.reader.behind = False  # not applied, perhaps not read: the retries end with the pause
            if isinstance(error, TrackingMoved) or self._moved_elsewhere(lanes, before):
                # A race or a rebuild: expected. After a database restart two processes may both
                # hold a lane until their locks are sorted out; the loser's rows then collide with
                # the winner's (a unique key) before its tracking check can tell it lost.
                log.info("Projections applied elsewhere meanwhile (%s); applying each alone", error)
            else:
                log.warning("A batch of several projections failed; applying each alone", exc_info=True)
            return any([self._alone(lane) for lane in lanes])
        for lane in lanes:
            self._succeeded(lane)
        return moved

    def _moved_elsewhere(self, lanes: list[_Lane], before: list[int] | None) -> bool:
        """Whether another process (or a rebuild) moved a lane's tracking since `before` (None:
        the positions could not be read, so nothing tells). A lane whose part of the batch
        committed before the failing part (SQLite) moved by itself: not counted."""
        if before is None:
            return False
        written = set(self.reader.written)
        try:
            return any(
                lane.builder.position != was
                for lane, was in zip(lanes, before, strict=True)
                if lane.builder not in written
            )
        except Exception:  # the database may be what failed: then it is no race
            return False

    def _retry_failing(self, owned: list[_Lane]) -> bool:
        now = time.monotonic()
        return any([self._alone(lane) for lane in owned if lane.failing and lane.retry_at <= now])

    def _alone(self, lane: _Lane) -> bool:
        """One batch of `lane` in a transaction of its own; False when failed or caught up."""
        self.beat()  # each may wait for the write lock: a pass of many such waits is no hang
        try:
            moved = lane.builder.step()
        except Exception as error:  # any failure: the batch rolled back; try again later
            lane.last_error = f"{type(error).__name__}: {error}".strip()
            log.exception("Projection %s failed; retrying in %.1f s", lane.name, lane.backoff)
            self._record_failure(lane)
            lane.failing, lane.retry_at = True, time.monotonic() + lane.backoff
            lane.backoff = min(lane.backoff * 2, MAX_BACKOFF_SECONDS)
            return False
        self._succeeded(lane)
        return moved

    def _succeeded(self, lane: _Lane) -> None:
        lane.last_error, lane.failing, lane.backoff = None, False, FIRST_BACKOFF_SECONDS
        if lane.recorded_failure:
            self._clear_failure(lane)

    def _idle_seconds(self, owned: list[_Lane]) -> float:
        """How long to sleep when no append is signalled: the poll, or until a retry or a claim is due."""
        due = [lane.retry_at for lane in owned if lane.failing]
        if len(owned) < len(self.lanes):
            due.append(self._claim_at)
        until = min(due, default=float("inf")) - time.monotonic()
        return max(min(self.settings.projection_poll_interval, until), 0.0)

    def _record_failure(self, lane: _Lane) -> None:
        """Make the failure visible to every process (status, /health); best effort."""
        self.beat()  # a write of its own: it may wait for the lock as long as the batch did
        try:
            position = lane.builder.recorder.position(APPLICATION_NAME)
            self.failures.record(lane.name, position, lane.last_error or "")
            lane.recorded_failure = True
        except Exception:  # the database itself may be what failed: the log has it
            log.warning("Cannot record the failure of projection %s", lane.name, exc_info=True)

    def _clear_failure(self, lane: _Lane) -> None:
        self.beat()  # a write of its own; a new worker's first pass clears every lane's, one by one
        try:
            self.failures.clear(lane.name)
            lane.recorded_failure = False
        except Exception:  # tried again after the next batch
            log.warning("Cannot clear the failure of projection %s", lane.name, exc_info=True)


class ProjectionSupervisor:
    """Runs projections in threads of this process (embedded in the API, or a worker).

    Only one process works a projection at a time; the others stand by and take
    over within seconds if it stops. `wait_for`, `status` and the queries work
    whether or not this process is the one running the projections.
    """

    def __init__(
        self,
        settings: Settings,
        names: Sequence[str] | None = None,
        *,
        store: EventStore | None = None,
        read_model: ReadModel | None = None,
        beat: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self._owns_read_model = read_model is None
        self.read_model = read_model or ReadModel(settings, store)
        self.ownership = Ownership(settings)
        self._stopped = False
        rm, size = self.read_model, settings.projection_batch_size
        builders = [Builder(rm.projections[cls.name], rm.recorders[cls.name], rm.db, rm.source, size)
                    for cls in select(names)]  # fmt: skip
        self._lanes = [_Lane(builder) for builder in builders]
        reader = SharedReader(builders, rm.db, rm.source, size, beat=beat)
        self._listener: AppendWatch = (
            LogListener(rm.store, rm.store.appended)
            if settings.uses_postgres
            else DataVersionWatcher(settings.sqlite_path, rm.store.appended, settings.db_lock_timeout)
        )
        self._runner = _Runner(self._lanes, reader, rm, self.ownership, self._listener, settings, beat)
        # Webhooks are delivered by the supervisor of every projection (embedded or `projections run`).
        self._webhooks = None if names else webhook_run(settings, rm.store, self.ownership)

    @property
    def names(self) -> list[str]:
        return [lane.name for lane in self._lanes]

    @property
    def watching(self) -> bool:
        """Whether this process follows other processes' appends now (only while it owns a projection)."""
        return self._listener.following.is_set()

    def start(self) -> None:
        self._listener.start()
        self._runner.thread.start()
        if self._webhooks is not None:
            self._webhooks.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in flight, release the locks, and close what this object opened."""
        if self._stopped:
            return
        self._stopped = True
        self._runner.stopping.set()
        self._runner.signal.notify()  # wake it if it sleeps
        if self._runner.thread.is_alive():
            self._runner.thread.join(timeout)
        self._listener.stop()
        if self._webhooks is not None:
            self._webhooks.stop(timeout)
        self.ownership.close()
        if self._owns_read_model:
            self.read_model.close()

    def status(self) -> list[ProjectionStatus]:
        mine = {lane.name: lane for lane in self._lanes}
        rows = []
        for row in self.read_model.status():
            lane = mine.get(row.name)
            if lane is not None:  # this process's own view of the error is the freshest
                row = replace(row, state=lane.state, last_error=lane.last_error or row.last_error)
            rows.append(row)
        return rows

    def wait_for(self, position: int, names: Sequence[str] | None = None, timeout: float = 5.0) -> bool:
        return self.read_model.wait_for(position, names, timeout)
