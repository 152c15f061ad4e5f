"""Reads shared by every aggregate's use cases: now, at a version, as of a time, and history.

One mechanism for every kind of aggregate (ADR 0029): `AggregateReads` gives a use-case class
`get` (now, `version=`, `as_of=`) and `history` (cursor-paged) once it names its runner, its
store, its view and the command that authorizes reading it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from nm_workflow.application.as_of import load_as_of
from nm_workflow.application.commands import CommandRunner
from nm_workflow.application.errors import CursorOutOfRange, NoSuchVersion
from nm_workflow.application.security import Actor, Command, authorize
from nm_workflow.application.store import EventStore
from nm_workflow.application.views import event_view
from nm_workflow.domain.metadata import WorkflowAggregate

A = TypeVar("A", bound=WorkflowAggregate)

HISTORY_PAGE = 100
"""Events in a page of history when the caller names no limit."""
HISTORY_LIMIT = 1000
"""The most events a page of history may hold."""


@dataclass(frozen=True)
class HistoryPage:
    """Events after a cursor, oldest first, and the cursor of the next page (None: no more)."""

    events: list[dict[str, Any]]
    next_after: int | None
    version: int
    """The aggregate's version now: the ETag of the history."""


class AggregateReads(Generic[A]):
    """`get` and `history` of a use-case class whose `_runner` and `_store` serve one aggregate kind."""

    _runner: CommandRunner[A]
    _store: EventStore
    _read_command: Command = Command.READ
    """Who may read this kind of aggregate, its history included."""

    def _view(self, aggregate: A) -> dict[str, Any]:
        raise NotImplementedError

    def _event_view(self, event: WorkflowAggregate.Event) -> dict[str, Any]:
        return event_view(event)

    def get(
        self, actor: Actor, target: UUID, version: int | None = None, as_of: datetime | None = None
    ) -> dict[str, Any]:
        """The aggregate's view now, at `version`, or as it was at `as_of`.

        Raises NotFound for another kind's id, a version it never reached, or a time before it.
        """
        authorize(actor, self._read_command)
        if as_of is None:
            return self._view(self._runner.load(target, version=version))
        try:
            past = load_as_of(self._store, target, as_of)
        except NoSuchVersion:
            self._require_kind(target)  # another kind's id is not found, whatever the time
            raise
        return self._view(self._runner.checked(target, past))

    def history(self, actor: Actor, target: UUID, after: int = 0, limit: int = HISTORY_PAGE) -> HistoryPage:
        """Up to `limit` events after version `after`, oldest first, each with its metadata.

        Raises NotFound for another kind's id, CursorOutOfRange for an `after` beyond the
        aggregate's version.
        """
        authorize(actor, self._read_command)
        current = self._stored_version(target)
        if after > current:
            raise CursorOutOfRange(
                f"The history of {target} ends at version {current}; there is nothing after {after}."
            )
        events = self._store.stored_events(target, after=after or None, limit=limit)
        last = events[-1].originator_version if events else after
        views = [self._event_view(e) for e in events]
        return HistoryPage(views, last if last < current else None, current)

    def events(self, actor: Actor, target: UUID) -> Sequence[WorkflowAggregate.Event]:
        """Every event of the aggregate, oldest first (for a replay of the whole history)."""
        authorize(actor, self._read_command)
        self._stored_version(target)
        return self._store.stored_events(target)

    def _stored_version(self, target: UUID) -> int:
        """The aggregate's version now (NotFound for another kind's id), without loading it."""
        self._require_kind(target)
        last = self._store.event_at(target)
        assert last is not None  # it has a first event
        return last.originator_version

    def _require_kind(self, target: UUID) -> None:
        """NotFound unless `target` is an aggregate of this kind: its first event alone is read."""
        self._runner.load(target, version=1)
