"""The public representation of stored events, for other services (ADR 0033, docs/feed.md).

One feed item per stored event of the service's business aggregates, as a JSON-able dict:

    {"position": 42,                       # the event's place in the log (notification id)
     "aggregate_id": "0b7e4c1e-...",       # UUID text
     "aggregate_type": "ContentItem",      # see AGGREGATE_TYPES
     "version": 3,                         # the aggregate's version after this event (its ETag)
     "type": "ContentItem.Published",      # see EVENT_TYPES
     "timestamp": "2026-03-02T10:00:00.123456Z",   # RFC 3339, UTC
     "metadata": {"actor_id", "role", "department", "correlation_id", "causation_id",
                  "policy_version"},       # null where an event predates a key
     "payload": {...}}                     # the event's own fields, JSON values

Payload values: times are RFC 3339 text in UTC, dates `YYYY-MM-DD`, ids UUID text,
decimals text (exact), enumerations their value; lists and objects as stored.

Public names are the event classes' qualified names (`ContentItem.Published`), which are also
what the stored topics name: renaming one would break replay of the log, so they are as stable
as the log itself. Events of the service's own bookkeeping (API keys, idempotency records) are
not public and are never in the feed.

Personal data (ADR 0019): an interaction's author handle and text are stored sealed, in fields
named `*_sealed`. The feed withholds every such field from every role: no plaintext and no
ciphertext leaves through it, so an erased interaction stays erased downstream too. A consumer
entitled to the text reads the interaction itself (`GET /interactions/{id}`), role-checked and
null once erased.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic

from nm_workflow.application.views import hidden_fields
from nm_workflow.domain.channel_account import ChannelAccount
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.evaluation import Evaluation
from nm_workflow.domain.feedback import Feedback
from nm_workflow.domain.interaction import Interaction
from nm_workflow.domain.metadata import WorkflowAggregate
from nm_workflow.domain.roles import Role
from nm_workflow.domain.timing import utc_text
from nm_workflow.domain.workflow_policy import WorkflowPolicy

AGGREGATES: tuple[type[WorkflowAggregate], ...] = (
    ContentItem,
    Interaction,
    ChannelAccount,
    Feedback,
    Evaluation,
    WorkflowPolicy,
)
"""The aggregates whose events the feed carries; a new business aggregate is added here."""

AGGREGATE_TYPES: tuple[str, ...] = tuple(aggregate.__name__ for aggregate in AGGREGATES)

METADATA_KEYS = ("actor_id", "role", "department", "correlation_id", "causation_id", "policy_version")
WITHHELD_SUFFIX = "_sealed"
"""Payload fields with this suffix hold sealed personal data: never in the feed."""


@dataclasses.dataclass(frozen=True)
class EventType:
    """One public event type: its name, its aggregate's type, and the topic it is stored under."""

    name: str
    aggregate_type: str
    topic: str


def _event_types() -> dict[str, EventType]:
    found = {}
    for aggregate in AGGREGATES:
        for attribute, value in vars(aggregate).items():
            # `Event` and `Created` are the library's bases; every other event class is an @event's.
            if attribute in {"Event", "Created"} or not isinstance(value, type):
                continue
            if issubclass(value, WorkflowAggregate.Event):
                name = f"{aggregate.__name__}.{attribute}"
                found[name] = EventType(name, aggregate.__name__, get_topic(value))
    return dict(sorted(found.items()))


EVENT_TYPES: Mapping[str, EventType] = MappingProxyType(_event_types())
"""Every public event type by name, e.g. `EVENT_TYPES["ContentItem.Published"]`."""
_BY_TOPIC = {event_type.topic: event_type for event_type in EVENT_TYPES.values()}

FEED_ACCESS: Mapping[Role, frozenset[str]] = MappingProxyType({
    # Auditors see the whole business log, as they read every audit trail.
    Role.AUDITOR: frozenset(AGGREGATE_TYPES),
    # Integrations follow what is published, said and measured on the channels, and the rules
    # in force; supervision (evaluations) and internal feedback stay inside the company's staff.
    Role.SERVICE: frozenset({"ContentItem", "Interaction", "ChannelAccount", "WorkflowPolicy"}),
})  # fmt: skip
"""Which aggregate types' events each role may follow; a role not named here may not follow any."""


def visible_types(roles: Iterable[Role]) -> frozenset[str]:
    """Names of the public event types a caller with `roles` may see (empty: no feed at all)."""
    aggregate_types = frozenset().union(*(FEED_ACCESS.get(role, frozenset()) for role in roles))
    return frozenset(name for name, t in EVENT_TYPES.items() if t.aggregate_type in aggregate_types)


def public_type(topic: str) -> EventType | None:
    """The public event type stored under `topic`; None for the service's own bookkeeping."""
    return _BY_TOPIC.get(topic)


def topics_of(type_names: Iterable[str]) -> list[str]:
    """The stored topics of public event type names (KeyError for a name not in EVENT_TYPES)."""
    return sorted(EVENT_TYPES[name].topic for name in type_names)


def feed_item(notification: Notification, mapper: Mapper[UUID]) -> dict[str, Any]:
    """The public representation of one stored event (shape in the module docstring).

    `mapper` decodes the stored state (the store's `EventStore.mapper`). Raises ValueError for a
    notification whose topic is not a public event type (see `public_type`).
    """
    event_type = public_type(notification.topic)
    if event_type is None:
        raise ValueError(f"Events stored under {notification.topic!r} are not public.")
    event = mapper.to_domain_event(notification)
    assert isinstance(event, WorkflowAggregate.Event)  # every public type is one
    meta = event.meta
    hidden = hidden_fields(type(event))
    payload = {
        field.name: plain(getattr(event, field.name))
        for field in dataclasses.fields(event)
        if field.name not in hidden and not field.name.endswith(WITHHELD_SUFFIX)
    }
    return {
        "position": notification.id,
        "aggregate_id": str(notification.originator_id),
        "aggregate_type": event_type.aggregate_type,
        "version": notification.originator_version,
        "type": event_type.name,
        "timestamp": plain(event.timestamp),
        "metadata": {key: plain(meta.get(key)) for key in METADATA_KEYS},
        "payload": payload,
    }


def plain(value: Any) -> Any:
    """A stored value as JSON: RFC 3339 UTC times, ISO dates, UUID and Decimal as text."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value
