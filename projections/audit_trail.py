"""`audit_trail`: one row per event in the log, of every aggregate, with its metadata.

The payload is the event's own data (everything but the envelope: id,
version, time, metadata), as JSON. Two choices, for auditors' sake:
- API keys' `secret_hash` is left out (`hidden_fields`, as every view of an event): a hash of
  a credential is not audit data.
- IdempotencyRecord events (the first outcome of a command sent with an
  Idempotency-Key) are kept: they are in the log, and they show which command
  a retried request was answered from. Filter on `aggregate_type` to skip them.
"""

from __future__ import annotations

from nm_workflow.application.views import hidden_fields
from projections.base import Projection, Recorded
from projections.rows import Appended
from projections.schema import Index, Table, col
from projections.sql import Tx

AUDIT_TRAIL = Table(
    "audit_trail",
    (
        col("position", "bigint"), col("aggregate_type", "text"), col("aggregate_id", "uuid"),
        col("version", "int"), col("event_type", "text"), col("actor_id", "text", null=True),
        col("role", "text", null=True), col("department", "text", null=True),
        col("correlation_id", "text", null=True), col("causation_id", "text", null=True),
        col("occurred_at", "time"), col("payload", "json"),
    ),
    ("position",),
    (
        Index("aggregate", ("aggregate_id", "version"), unique=True),
        Index("actor", ("actor_id", "position")),
        Index("occurred", ("occurred_at",)),
    ),
)  # fmt: skip
ROWS = Appended(AUDIT_TRAIL)

TIMES = ("occurred_at",)


_NAMES: dict[type, tuple[str, str, frozenset[str]]] = {}
"""By event class: (aggregate type, event type, what its payload leaves out), worked out once."""


def _names(event_class: type) -> tuple[str, str, frozenset[str]]:
    found = _NAMES.get(event_class)
    if found is None:
        aggregate_type, _, event_type = event_class.__qualname__.rpartition(".")
        found = _NAMES[event_class] = (aggregate_type or event_type, event_type, hidden_fields(event_class))
    return found


class AuditTrail(Projection):
    name = "audit_trail"
    schema = (AUDIT_TRAIL,)
    batch_tables = (ROWS,)
    every_event = True

    def handle(self, tx: Tx, recorded: Recorded) -> None:
        # Every event of the log passes here in a rebuild: its attributes are read directly.
        event = recorded.event
        aggregate_type, event_type, hidden = _names(type(event))
        meta = getattr(event, "meta", None) or {}
        ROWS.add(tx, {
            "position": recorded.position, "aggregate_type": aggregate_type,
            "aggregate_id": recorded.aggregate_id, "version": int(event.originator_version),
            "event_type": event_type, "actor_id": meta.get("actor_id"), "role": meta.get("role"),
            "department": meta.get("department"), "correlation_id": meta.get("correlation_id"),
            "causation_id": meta.get("causation_id"), "occurred_at": event.timestamp,
            "payload": {name: value for name, value in vars(event).items() if name not in hidden},
        })  # fmt: skip
