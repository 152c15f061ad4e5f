"""Who caused an event, and why: metadata stamped on every event.

The library's events carry no metadata, so every aggregate of this service
derives from `WorkflowAggregate`, whose events have a keyword-only `meta`
field filled from a context variable. The application sets the variable
around each command (`recording`); the domain never has to pass it along.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from eventsourcing.domain import Aggregate

_NO_METADATA: Mapping[str, Any] = MappingProxyType({})
_current: ContextVar[Mapping[str, Any]] = ContextVar("nm_event_metadata", default=_NO_METADATA)


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
        return asdict(self)


@contextmanager
def recording(metadata: EventMetadata) -> Iterator[None]:
    """Stamp every event triggered inside the block with `metadata`."""
    token = _current.set(MappingProxyType(metadata.as_dict()))
    try:
        yield
    finally:
        _current.reset(token)


def _current_metadata() -> dict[str, Any]:
    return dict(_current.get())


class WorkflowAggregate(Aggregate):
    """Base of the service's aggregates: events carry `meta`."""

    class Event(Aggregate.Event):
        meta: dict[str, Any] = field(default_factory=_current_metadata, kw_only=True)

    class Created(Event, Aggregate.Created):
        pass
