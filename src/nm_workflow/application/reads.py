"""Reads shared by every aggregate's use cases."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from nm_workflow.application.errors import NotFound
from nm_workflow.application.store import EventStore


def version_at(store: EventStore, aggregate_id: UUID, as_of: datetime) -> int:
    """The aggregate's version at a time: that of its last event recorded at or before `as_of`."""
    versions = [e.originator_version for e in store.stored_events(aggregate_id) if e.timestamp <= as_of]
    if not versions:
        raise NotFound(f"{aggregate_id} did not exist at {as_of.isoformat()}.")
    return versions[-1]
