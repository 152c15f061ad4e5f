"""Who caused an event, and why: metadata stamped on every event.

The library's events carry no metadata, so every aggregate of this service
derives from `WorkflowAggregate`, whose events have a keyword-only `meta`
field filled from a context variable. The application sets the variable
around each command (`recording`); the domain never has to pass it along.
The same block gives the events their `timestamp`: the application's clock
reading for the command, rather than the library's own reading of the system
clock, so that a clock the application is given (tests, the demo quarter)
dates the events as it dates the times the commands are checked against.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from eventsourcing.domain import Aggregate

from nm_workflow.domain.context_values import ContextValues

_NO_METADATA: Mapping[str, Any] = MappingProxyType({})
_current: ContextVar[Mapping[str, Any]] = ContextVar("nm_event_metadata", default=_NO_METADATA)
_present: ContextVar[datetime | None] = ContextVar("nm_event_time", default=None)


@dataclass(frozen=True)
class EventMetadata:
    """The metadata every event records (the time is the event's own timestamp)."""

    actor_id: str
    role: str
    department: str
    correlation_id: str
    causation_id: str
    policy_version: int
    """The WorkflowPolicy version in force when the command was decided (Ch. 8)."""

    def as_dict(self) -> dict[str, Any]:
        # Spelt out: dataclasses.asdict deep-copies each value through a recursive walk, twice per
        # command, where every value here is a str or an int.
        return {
            "actor_id": self.actor_id, "role": self.role, "department": self.department,
            "correlation_id": self.correlation_id, "causation_id": self.causation_id,
            "policy_version": self.policy_version,
        }  # fmt: skip


def recording(metadata: EventMetadata, at: datetime | None = None) -> ContextValues[None]:
    """Stamp every event triggered inside the block with `metadata`, and with the timestamp `at`
    (aware, UTC) when given; without it the library reads the system clock."""
    return ContextValues(None, (_current, MappingProxyType(metadata.as_dict())), (_present, at))


def _current_metadata() -> dict[str, Any]:
    return dict(_current.get())


class WorkflowAggregate(Aggregate):
    """Base of the service's aggregates: events carry `meta`."""

    class Event(Aggregate.Event):
        meta: dict[str, Any] = field(default_factory=_current_metadata, kw_only=True)
        class_version = 1
        """The library's default, said once here: its mapper asks each event's class for it when it
        encodes or decodes the event, and a class without one raised and caught an AttributeError
        each time (4-5 per command). 1 is never written into the stored state, so every event's
        bytes are those the library wrote without it."""

        @staticmethod
        def create_timestamp() -> datetime:
            return _present.get() or Aggregate.Event.create_timestamp()

    class Created(Event, Aggregate.Created):
        pass
