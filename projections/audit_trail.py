"""`audit_trail`: one row per event in the log, of every aggregate, with its metadata.

The payload is the event's own data (everything but the envelope: id,
version, time, metadata), as JSON. Two choices, for auditors' sake:
- API keys' `secret_hash` is left out: a hash of a credential is not audit data.
- IdempotencyRecord events (the first outcome of a command sent with an
  Idempotency-Key) are kept: they are in the log, and they show which command
  a retried request was answered from. Filter on `aggregate_type` to skip them.
"""

from __future__ import annotations

from typing import Any

from projections.base import Projection, Recorded
from projections.sql import Tx

SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS {audit_trail} (
    position       INTEGER PRIMARY KEY,
    aggregate_type TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    version        INTEGER NOT NULL,
    event_type     TEXT NOT NULL,
    actor_id       TEXT,
    role           TEXT,
    department     TEXT,
    correlation_id TEXT,
    causation_id   TEXT,
    occurred_at    TEXT NOT NULL,
    payload        TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {audit_trail}_aggregate ON {audit_trail} (aggregate_id, version);
CREATE INDEX IF NOT EXISTS {audit_trail}_actor ON {audit_trail} (actor_id, position);
CREATE INDEX IF NOT EXISTS {audit_trail}_occurred ON {audit_trail} (occurred_at)
"""

POSTGRES_DDL = """
CREATE TABLE IF NOT EXISTS {audit_trail} (
    position       bigint PRIMARY KEY,
    aggregate_type text NOT NULL,
    aggregate_id   uuid NOT NULL,
    version        integer NOT NULL,
    event_type     text NOT NULL,
    actor_id       text,
    role           text,
    department     text,
    correlation_id text,
    causation_id   text,
    occurred_at    timestamptz NOT NULL,
    payload        jsonb NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {audit_trail}_aggregate ON {audit_trail} (aggregate_id, version);
CREATE INDEX IF NOT EXISTS {audit_trail}_actor ON {audit_trail} (actor_id, position);
CREATE INDEX IF NOT EXISTS {audit_trail}_occurred ON {audit_trail} (occurred_at)
"""

TIMES = ("occurred_at",)
ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "meta", "originator_topic"})
SECRETS = {"ApiKey": frozenset({"secret_hash"})}


def payload(aggregate_type: str, event: Any) -> dict[str, Any]:
    hidden = ENVELOPE | SECRETS.get(aggregate_type, frozenset())
    return {name: value for name, value in vars(event).items() if name not in hidden}


class AuditTrail(Projection):
    name = "audit_trail"
    tables = ("audit_trail",)
    sqlite_ddl = SQLITE_DDL
    postgres_ddl = POSTGRES_DDL
    every_event = True

    def handle(self, tx: Tx, recorded: Recorded) -> None:
        aggregate_type, _, event_type = type(recorded.event).__qualname__.rpartition(".")
        meta = recorded.meta
        tx.execute(
            "INSERT INTO {audit_trail} (position, aggregate_type, aggregate_id, version, event_type, "
            "actor_id, role, department, correlation_id, causation_id, occurred_at, payload) "
            "VALUES (:position, :aggregate_type, :aggregate_id, :version, :event_type, :actor_id, :role, "
            ":department, :correlation_id, :causation_id, :at, :payload)",
            {
                "position": recorded.position, "aggregate_type": aggregate_type or event_type,
                "aggregate_id": recorded.aggregate_id, "version": recorded.version,
                "event_type": event_type, "actor_id": meta.get("actor_id"), "role": meta.get("role"),
                "department": meta.get("department"), "correlation_id": meta.get("correlation_id"),
                "causation_id": meta.get("causation_id"), "at": recorded.at,
                "payload": tx.dialect.json(payload(aggregate_type, recorded.event)),
            },
        )  # fmt: skip
