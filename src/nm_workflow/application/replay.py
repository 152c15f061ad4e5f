"""The timeline of any aggregate, for auditors (`nm-workflow audit replay`, ADR 0029).

Who did what to one aggregate, event by event: when, who (actor, role, department), under
which version of the workflow policy, and what the event recorded. Works alike for every
aggregate type, since every event carries the same metadata (ADR 0003). Personal data stays
sealed (ADR 0019): a sealed field is shown as sealed, never opened, so a timeline can be
handed on without leaking it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import takewhile
from typing import Any
from uuid import UUID

from nm_workflow.application.errors import NoSuchVersion, NotFound
from nm_workflow.application.store import EventStore
from nm_workflow.application.views import event_view
from nm_workflow.domain.timing import utc_text

SEALED_SUFFIX = "_sealed"
SEALED = "(sealed personal data)"


@dataclass(frozen=True)
class Step:
    """One event of a timeline."""

    version: int
    recorded_at: datetime
    actor_id: str | None
    role: str | None
    department: str | None
    policy_version: int | None
    correlation_id: str | None
    causation_id: str | None
    event: str
    changes: dict[str, Any]
    """What the event recorded: its own fields, sealed ones named without their suffix."""


@dataclass(frozen=True)
class Timeline:
    aggregate_id: UUID
    kind: str
    """The aggregate's type, e.g. ContentItem."""
    steps: list[Step]
    version: int
    """The version the timeline ends at: the last, or that at the time asked for."""


def timeline(store: EventStore, aggregate_id: UUID, as_of: datetime | None = None) -> Timeline:
    """Every event of the aggregate, or those up to `as_of`, oldest first.

    `as_of` ends the timeline at the last event recorded at or before it, as `as_of` reads do
    (as_of.py): taken from the events read here, whose times never go back within an aggregate.
    Raises NotFound for an unknown id, NoSuchVersion when `as_of` is before the aggregate existed.
    No role check: this is the operator's command line, reading the database it was given.
    """
    events = store.stored_events(aggregate_id)
    if not events:
        raise NotFound(f"No aggregate with id {aggregate_id}.")
    shown = list(events)
    if as_of is not None:
        shown = list(takewhile(lambda event: event.timestamp <= as_of, events))
        if not shown:
            raise NoSuchVersion(f"{aggregate_id} did not exist at {utc_text(as_of)}.")
    steps = [_step(event_view(e)) for e in shown]
    kind = type(events[0]).__qualname__.split(".")[0]
    return Timeline(aggregate_id, kind, steps, shown[-1].originator_version)


def _step(view: dict[str, Any]) -> Step:
    meta = view["metadata"]
    changes = {
        name.removesuffix(SEALED_SUFFIX): SEALED if name.endswith(SEALED_SUFFIX) and value else value
        for name, value in view["data"].items()
    }
    return Step(
        version=view["version"],
        recorded_at=view["recorded_at"],
        actor_id=meta.get("actor_id"),
        role=meta.get("role"),
        department=meta.get("department"),
        policy_version=meta.get("policy_version"),
        correlation_id=meta.get("correlation_id"),
        causation_id=meta.get("causation_id"),
        event=view["type"],
        changes=changes,
    )
