"""Idempotency keys, kept as events committed in the same transaction as the command's.

A record's id is derived from (actor, key), so two attempts with the same key
collide on the store's unique (id, version) constraint: at most one commits,
and its outcome is what every retry gets back, from any process, after any
restart. See docs/adr/0004-idempotency.md.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event
from eventsourcing.utils import get_topic

from nm_workflow.application.json_text import compact_encoder
from nm_workflow.domain.metadata import EventMetadata, WorkflowAggregate

_NAMESPACE = UUID("6f1c1a52-3a51-4bb5-9a53-5d2f0b8e7c41")


class IdempotencyRecord(WorkflowAggregate):
    """The outcome of the first successful command sent with one key."""

    @event("CommandRecorded")
    def __init__(
        self,
        actor_id: str,
        key: str,
        command: str,
        fingerprint: str,
        aggregate_id: UUID,
        version: int,
        created: bool,
    ) -> None:
        self.fingerprint = fingerprint
        self.aggregate_id, self.version, self.created = aggregate_id, version, created

    @staticmethod
    def create_id(actor_id: str, key: str) -> UUID:
        return _record_id(actor_id, key)


_TOPIC = get_topic(IdempotencyRecord)


def recorded(
    actor_id: str, key: str, command: str, fingerprint: str, aggregate_id: UUID, version: int, created: bool,
    *, metadata: EventMetadata, at: datetime,
) -> WorkflowAggregate.Event:  # fmt: skip
    """The event `IdempotencyRecord(...)` would make (`CommandRecorded`, version 1) inside
    `recording(metadata, at)`, made alone.

    The write path saves only this event: making the aggregate around it through the library
    (its arguments coerced, its id, its event applied to a new object through the decorated
    `__init__`) cost three times the event itself, about 3% of a command. The same class, the same
    fields and the same values, stamped with the same metadata and time, given rather than read
    from a `recording` block entered for it (a block cost about as much as the event: ADR 0071):
    the same stored bytes (tests/unit/test_idempotency_record.py).
    """
    made: WorkflowAggregate.Event = IdempotencyRecord.CommandRecorded(  # type: ignore[attr-defined]
        originator_id=_record_id(actor_id, key),
        originator_version=IdempotencyRecord.INITIAL_VERSION,
        timestamp=at,
        originator_topic=_TOPIC,
        actor_id=actor_id,
        key=key,
        command=command,
        fingerprint=fingerprint,
        aggregate_id=aggregate_id,
        version=version,
        created=created,
        meta=metadata.as_dict(),
    )
    return made


@lru_cache(maxsize=64)
def _record_id(actor_id: str, key: str) -> UUID:
    # A command derives its record's id twice: for its read, then when `recorded` makes the
    # record's event; kept for the few commands in flight, the second is a lookup
    # (docs/performance-history.md, "Third pass").
    return uuid5(_NAMESPACE, f"{actor_id}\n{key}")


_canonical = compact_encoder(str, sort_keys=True, ensure_ascii=True)
"""`json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))`, its C encoder made once
rather than at every call (json_text.py): the text, hence every stored fingerprint, unchanged."""


def fingerprint(command: str, target: UUID | None, payload: dict[str, Any]) -> str:
    """What makes two requests 'the same request' for one key."""
    canonical = _canonical({"command": command, "target": str(target), "payload": payload})
    return hashlib.sha256(canonical.encode()).hexdigest()
