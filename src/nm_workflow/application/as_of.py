"""An aggregate as it was at a time (`as_of`): three reads, none of which grows with the number
of events in its history (the first is an index search of its noted snapshot times).

The aggregate at a time is the one at its last event recorded at or before that time (ADR 0026,
0029). Event times do not go back within an aggregate (each command reads one clock, and the
commands on one aggregate follow one another; ADR 0029 says what clock skew between processes
means), so that event is found from the snapshot times (`snapshot_times.py`, ADR 0044):

1. one read of the noted snapshot versions around the time: `below`, the latest recorded at or
   before it, and `above`, the earliest recorded after it (one index entry each);
2. a load up to the version before `above` (the library's: the latest snapshot at or below it,
   then the events after that snapshot), which applies the events only while they are at or
   before the time, and stops decoding at the first after it.

With every snapshot's time noted, that reads one snapshot and fewer than `NM_SNAPSHOT_INTERVAL`
events. A missing note only costs time: the load then starts from an older snapshot, or, when
the snapshot it would start from was recorded after the time (its time not noted), the version
is found by a binary search between `below` and that snapshot's version (or `above`, if lower),
one single-event read per step, and loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Snapshot

from nm_workflow.application.errors import NoSuchVersion, NotFound
from nm_workflow.domain.metadata import WorkflowAggregate
from nm_workflow.domain.timing import utc_text

if TYPE_CHECKING:
    from nm_workflow.application.store import EventStore

Projector = Callable[[Any, Iterable[Any]], Any]


class SnapshotAfter(Exception):
    """The snapshot a load started from was recorded after the time asked for: the version at
    the time is below its `version`."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


def until(moment: datetime) -> Projector:
    """The library's projector (snapshot, then events) applying only what was recorded at or
    before `moment`; it stops at the first event after it, so that the rest is never decoded.

    Raises SnapshotAfter when the snapshot's version was recorded after `moment`.
    """

    def project(aggregate: Any, events: Iterable[Any]) -> Any:
        for event in events:
            if isinstance(event, Snapshot):  # its own timestamp is when it was taken, not recorded
                aggregate = event.mutate(aggregate)
                if aggregate.modified_on > moment:
                    raise SnapshotAfter(aggregate.version)
            elif event.timestamp > moment:
                break
            else:
                aggregate = event.mutate(aggregate)
        return aggregate

    return project


def load_as_of(store: EventStore, aggregate_id: UUID, as_of: datetime) -> WorkflowAggregate:
    """The aggregate as it was at `as_of`: at its last event recorded at or before then.

    Raises NotFound for an unknown id, NoSuchVersion when the aggregate did not exist yet.
    """
    below, above = store.snapshot_times.around(aggregate_id, as_of)
    try:
        aggregate: WorkflowAggregate = store.load(
            aggregate_id, None if above is None else above - 1, until=until(as_of)
        )
    except SnapshotAfter as after:  # a snapshot whose time was not noted, after as_of: search, then load
        high = after.version if above is None else min(above, after.version)
        aggregate = store.load(aggregate_id, _searched_version(store, aggregate_id, as_of, below, high))
    except NotFound:
        if store.event_at(aggregate_id, 1) is not None:
            raise NoSuchVersion(f"{aggregate_id} did not exist at {utc_text(as_of)}.") from None
        raise
    return aggregate


def _searched_version(store: EventStore, aggregate_id: UUID, as_of: datetime, low: int, high: int) -> int:
    """The version at `as_of` by binary search, one single-event read per step, between `low`
    (0, or a version whose event is at or before `as_of`) and `high` (a version whose event is
    after it). Raises NoSuchVersion when that is before the aggregate's first event."""
    while high - low > 1:
        middle = (low + high) // 2
        event = store.event_at(aggregate_id, middle)
        assert event is not None  # versions run 1..last without gaps
        low, high = (middle, high) if event.timestamp <= as_of else (low, middle)
    if low == 0:
        raise NoSuchVersion(f"{aggregate_id} did not exist at {utc_text(as_of)}.")
    return low
