"""The event store's snapshots (ADR 0029, ADR 0044): taking one after a commit, reading the latest.

`EventStore` (store.py) inherits these methods; they use only what `_Store` names of it.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Protocol
from uuid import UUID

from eventsourcing.application import Repository
from eventsourcing.persistence import EventStore as LibraryEventStore

from nm_workflow.application.errors import ConcurrentModification, StoreBusy, StoreUnavailable
from nm_workflow.application.snapshot_times import SnapshotTimes
from nm_workflow.application.snapshots import AggregateSnapshot, SnapshotHints
from nm_workflow.domain.metadata import WorkflowAggregate

log = logging.getLogger(__name__)


class _Store(Protocol):
    snapshots: LibraryEventStore[UUID] | None
    snapshot_hints: SnapshotHints
    snapshot_times: SnapshotTimes

    @property
    def repository(self) -> Repository[UUID]: ...

    def _database(self) -> AbstractContextManager[None]: ...


class StoreSnapshots:
    """The snapshot methods of `EventStore`."""

    def _snapshot(
        self: _Store, aggregate_id: UUID, version: int, in_memory: WorkflowAggregate | None = None
    ) -> None:
        """Store the aggregate's state at `version` (ADR 0029): `in_memory` itself when it is the
        aggregate just saved at that version, else replayed from the store.

        The events are committed by now: a snapshot that cannot be written only costs later
        loads time, so the command still succeeds.
        """
        assert self.snapshots is not None  # construct_env enables them
        try:
            with self._database():
                aggregate: WorkflowAggregate
                if in_memory is not None and in_memory.version == version:
                    aggregate = in_memory  # its state is what its events made: no read needed
                else:  # a command that saved several events past the due version
                    aggregate = self.repository.get(aggregate_id, version=version)
                stored = self.snapshots.mapper.to_stored_event(AggregateSnapshot.take(aggregate))
            # With its time's row (on SQLite by the library's `put`, sized), guarded by `_database` alike.
            self.snapshot_times.write(stored, aggregate.modified_on, self.snapshots.recorder.insert_events)
            self.snapshot_hints.note(aggregate_id, version, len(stored.state))
        except (StoreUnavailable, StoreBusy, ConcurrentModification) as error:
            log.warning("No snapshot (or its time) of %s at version %s: %s", aggregate_id, version, error)

    def latest_snapshot(self: _Store, aggregate_id: UUID) -> WorkflowAggregate | None:
        """The aggregate as of its latest snapshot (its `version` says which), None without one."""
        assert self.snapshots is not None  # construct_env enables them
        with self._database():
            found = list(self.snapshots.get(aggregate_id, desc=True, limit=1))
        return found[0].mutate(None) if found else None  # type: ignore[attr-defined]
