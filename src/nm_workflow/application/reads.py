"""Reads shared by every aggregate's use cases: now, at a version, as of a time, and history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from nm_workflow.application.commands import CommandRunner
from nm_workflow.application.errors import NotFound
from nm_workflow.application.security import Actor, Command, authorize
from nm_workflow.application.store import EventStore
from nm_workflow.application.views import event_view
from nm_workflow.domain.metadata import WorkflowAggregate

A = TypeVar("A", bound=WorkflowAggregate)


def version_at(store: EventStore, aggregate_id: UUID, as_of: datetime) -> int:
    """The aggregate's version at a time: that of its last event recorded at or before `as_of`."""
    versions = [e.originator_version for e in store.stored_events(aggregate_id) if e.timestamp <= as_of]
    if not versions:
        raise NotFound(f"{aggregate_id} did not exist at {as_of.isoformat()}.")
    return versions[-1]


def read(
    runner: CommandRunner[A],
    store: EventStore,
    actor: Actor,
    target: UUID,
    version: int | None = None,
    as_of: datetime | None = None,
) -> A:
    """The aggregate now, at `version`, or as it was at `as_of` (staff roles may read)."""
    authorize(actor, Command.READ)
    if as_of is not None:
        version = version_at(store, target, as_of)
    return runner.load(target, version=version)


def read_history(
    runner: CommandRunner[Any], store: EventStore, actor: Actor, target: UUID
) -> Sequence[WorkflowAggregate.Event]:
    """Every event of the aggregate, oldest first (NotFound for another kind's id)."""
    authorize(actor, Command.READ)
    runner.load(target)
    return store.stored_events(target)


class AggregateReads(Generic[A]):
    """`get` and `history` of a use-case class whose `_runner` and `_store` serve one aggregate kind."""

    _runner: CommandRunner[A]
    _store: EventStore

    def _view(self, aggregate: A) -> dict[str, Any]:
        raise NotImplementedError

    def _event_view(self, event: WorkflowAggregate.Event) -> dict[str, Any]:
        return event_view(event)

    def get(
        self, actor: Actor, target: UUID, version: int | None = None, as_of: datetime | None = None
    ) -> dict[str, Any]:
        """The aggregate's view now, at `version`, or as it was at `as_of`."""
        return self._view(read(self._runner, self._store, actor, target, version, as_of))

    def history(self, actor: Actor, target: UUID) -> list[dict[str, Any]]:
        """Every event of the aggregate, oldest first."""
        return [self._event_view(e) for e in read_history(self._runner, self._store, actor, target)]
