"""Runners: each projection follows the log in its own thread, exactly once.

One code path for both databases: poll the notification log after the
tracked position, apply a batch and advance the tracking in one transaction
(see tracking.py). SQLite's recorder in eventsourcing 9.5.6 has no
`subscribe()`, and polling PostgreSQL the same way keeps one behaviour to test.
Positions are read as "greater than the tracked one, up to the head seen
before the read": the store's inserts lock the events table, so once the head
is visible every lower position is settled, and gaps left by rolled-back
inserts are simply never returned. When a projection's topics have no event up
to that head, its tracking still moves to the head, so `wait_for` any position
works for every projection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import APPLICATION_NAME, EventStore
from projections.base import Projection
from projections.failures import FailureLog
from projections.ownership import Ownership
from projections.queries import ReadModel
from projections.readside import EventSource, ProjectionStatus, Recorder
from projections.registry import select
from projections.sql import Database
from projections.webhook_delivery import webhook_run

log = logging.getLogger("projections")
STANDBY_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 10.0


class Builder:
    """Moves one projection's live tables forward, one batch per transaction."""

    def __init__(
        self, projection: Projection, recorder: Recorder, db: Database, source: EventSource, batch_size: int
    ) -> None:
        self.projection, self.recorder, self.db, self.source = projection, recorder, db, source
        self.batch_size = batch_size
        self._idle_at = -1  # the head this builder last found itself caught up with

    def step(self) -> bool:
        """Apply the next batch; False when there was nothing to do."""
        head = self.source.head()
        if head == self._idle_at:
            return False
        position = self.recorder.position(APPLICATION_NAME)
        if position >= head:
            self._idle_at = head
            return False
        batch = self.source.read(position, head, self.projection.topics, self.batch_size)
        target = batch[-1].position if len(batch) == self.batch_size else head
        with self.db.write(self.projection.live_tables()) as tx:
            if self.recorder.advance(tx, APPLICATION_NAME, position, target):
                self.projection.apply(tx, batch)
            # else another process moved the tracking: nothing is written; look again.
        return True

    def catch_up(self) -> None:
        """Apply batches until the head seen at the start of each step is reached."""
        while self.step():
            pass


class _Run:
    """The thread of one projection in a supervisor."""

    def __init__(
        self, builder: Builder, ownership: Ownership, failures: FailureLog, settings: Settings
    ) -> None:
        self.builder, self.ownership, self.failures, self.settings = builder, ownership, failures, settings
        self.state: str = "stopped"
        self.last_error: str | None = None
        # A failure recorded by a process that stopped is cleared by the next owner's first batch.
        self._recorded_failure = True
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"projection-{self.name}", daemon=True)

    @property
    def name(self) -> str:
        return self.builder.projection.name

    def _loop(self) -> None:
        lock, backoff = f"projection:{self.name}", 0.5
        while not self.stopping.is_set():
            if not self.ownership.acquire(lock):
                self.state = "standby"
                self.stopping.wait(STANDBY_SECONDS)
                continue
            self.state = "running"
            try:
                moved = self.builder.step()
            except Exception as error:  # any failure: the batch rolled back; try again later
                self.last_error = f"{type(error).__name__}: {error}".strip()
                log.exception("Projection %s failed; retrying in %.1f s", self.name, backoff)
                self._record_failure(self.last_error)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            self.last_error, backoff = None, 0.5
            if self._recorded_failure:
                self._clear_failure()
            if not moved:
                self.stopping.wait(self.settings.projection_poll_interval)
        self.ownership.release(lock)
        self.state = "stopped"

    def _record_failure(self, error: str) -> None:
        """Make the failure visible to every process (status, /health); best effort."""
        try:
            position = self.builder.recorder.position(APPLICATION_NAME)
            self.failures.record(self.name, position, error)
            self._recorded_failure = True
        except Exception:  # the database itself may be what failed: the log has it
            log.warning("Cannot record the failure of projection %s", self.name, exc_info=True)

    def _clear_failure(self) -> None:
        try:
            self.failures.clear(self.name)
            self._recorded_failure = False
        except Exception:  # tried again after the next batch
            log.warning("Cannot clear the failure of projection %s", self.name, exc_info=True)


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
    ) -> None:
        self.settings = settings
        self._owns_read_model = read_model is None
        self.read_model = read_model or ReadModel(settings, store)
        self.ownership = Ownership(settings)
        self._stopped = False
        rm = self.read_model
        self._runs = [
            _Run(
                Builder(rm.projections[cls.name], rm.recorders[cls.name], rm.db, rm.source,
                        settings.projection_batch_size),
                self.ownership, rm.failures, settings,
            )
            for cls in select(names)
        ]  # fmt: skip
        # Webhooks are delivered by the supervisor of every projection (embedded or `projections run`).
        self._webhooks = None if names else webhook_run(settings, rm.store, self.ownership)

    @property
    def names(self) -> list[str]:
        return [run.name for run in self._runs]

    def start(self) -> None:
        for run in self._runs:
            run.thread.start()
        if self._webhooks is not None:
            self._webhooks.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batches in flight, release the locks, and close what this object opened."""
        if self._stopped:
            return
        self._stopped = True
        for run in self._runs:
            run.stopping.set()
        for run in self._runs:
            if run.thread.is_alive():
                run.thread.join(timeout)
        if self._webhooks is not None:
            self._webhooks.stop(timeout)
        self.ownership.close()
        if self._owns_read_model:
            self.read_model.close()

    def status(self) -> list[ProjectionStatus]:
        mine = {run.name: run for run in self._runs}
        rows = []
        for row in self.read_model.status():
            run = mine.get(row.name)
            if run is not None:  # this process's own view of the error is the freshest
                row = replace(row, state=run.state, last_error=run.last_error or row.last_error)
            rows.append(row)
        return rows

    def wait_for(self, position: int, names: Sequence[str] | None = None, timeout: float = 5.0) -> bool:
        return self.read_model.wait_for(position, names, timeout)


def run_worker(settings: Settings, names: Sequence[str] | None, stop: threading.Event) -> None:
    """A worker process's body: run the projections until `stop` is set."""
    supervisor = ProjectionSupervisor(settings, names)
    supervisor.start()
    try:
        stop.wait()
    finally:
        supervisor.stop()
