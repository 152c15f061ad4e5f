"""What the webhook deliveries keep beside the event log (ADR 0034), in the event store's database.

Three tables, none of them rebuilt from the log (a receiver's answers are not events):
- `webhook_secrets`: each subscription's signing secret, made by the service and never in the log;
- `webhook_cursors`: per subscription, the log position delivered through (the delivery worker's
  tracking), how many redelivery requests it has carried out, and its retry state while failing;
- `webhook_deliveries`: the delivery log, one row per attempt.

A successful delivery writes its row and moves its cursor in one transaction, and only from the
position the worker read it at (compare and set): two workers can never both advance a cursor.
Times are ISO 8601 text in UTC on both databases, e.g. `2026-03-02T10:00:00.000000+00:00`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore

from nm_workflow.application.side_tables import create_tables, iso, write
from nm_workflow.application.store import EventStore
from nm_workflow.application.store_errors import translated_errors

_TABLES = (
    "CREATE TABLE IF NOT EXISTS webhook_secrets (subscription_id TEXT PRIMARY KEY, secret TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS webhook_cursors ("
    " subscription_id TEXT PRIMARY KEY, delivered_through BIGINT NOT NULL,"
    " redeliveries_done INTEGER NOT NULL, attempts INTEGER NOT NULL, failing_since TEXT,"
    " next_attempt_at TEXT, last_error TEXT)",
    "CREATE TABLE IF NOT EXISTS webhook_deliveries ("
    " subscription_id TEXT NOT NULL, position BIGINT NOT NULL, attempt INTEGER NOT NULL,"
    " kind TEXT NOT NULL, event_type TEXT NOT NULL, attempted_at TEXT NOT NULL,"
    " outcome TEXT NOT NULL, status_code INTEGER, error TEXT,"
    " PRIMARY KEY (subscription_id, position, attempt))",
)
DELIVERED, FAILED = "delivered", "failed"
_WELL = "attempts = 0, failing_since = NULL, next_attempt_at = NULL, last_error = NULL"


@dataclass(frozen=True)
class Cursor:
    """Where one subscription's deliveries stand."""

    delivered_through: int
    """Every event of the subscribed types up to this log position was delivered (or came before)."""
    redeliveries_done: int
    attempts: int
    """Failed attempts in a row (0 while delivering well)."""
    failing_since: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Attempt:
    """One attempt to deliver one event, as the delivery log records it."""

    subscription_id: UUID
    position: int
    event_type: str
    kind: str
    """`delivery`, or `redelivery` when an admin asked for it again."""
    attempted_at: datetime
    status_code: int | None
    error: str | None

    @property
    def outcome(self) -> str:
        return FAILED if self.error is not None else DELIVERED


class WebhookState:
    """The three tables, created when missing; every method is one transaction."""

    def __init__(self, store: EventStore) -> None:
        self._datastore: Any = store.factory.datastore  # type: ignore[attr-defined]
        self._postgres = isinstance(self._datastore, PostgresDatastore)
        create_tables(self._datastore, _TABLES)

    def keep_secret(self, subscription_id: UUID, secret: str) -> None:
        self._run("INSERT INTO webhook_secrets VALUES (?, ?)", (str(subscription_id), secret))

    def secret(self, subscription_id: UUID) -> str | None:
        row = self._one("SELECT secret FROM webhook_secrets WHERE subscription_id = ?", _key(subscription_id))
        return None if row is None else str(row["secret"])

    def forget_secret(self, subscription_id: UUID) -> None:
        self._run("DELETE FROM webhook_secrets WHERE subscription_id = ?", (str(subscription_id),))

    def cursor(self, subscription_id: UUID, start_after: int) -> Cursor:
        """The subscription's cursor, made at `start_after` the first time it is asked for."""
        key = str(subscription_id)
        self._run(
            "INSERT INTO webhook_cursors VALUES (?, ?, 0, 0, NULL, NULL, NULL) "
            "ON CONFLICT (subscription_id) DO NOTHING",
            (key, start_after),
        )
        row = self._one("SELECT * FROM webhook_cursors WHERE subscription_id = ?", (key,))
        assert row is not None  # just made, and never deleted
        return Cursor(
            int(row["delivered_through"]), int(row["redeliveries_done"]), int(row["attempts"]),
            _time(row["failing_since"]), _time(row["next_attempt_at"]), row["last_error"],
        )  # fmt: skip

    def find_cursor(self, subscription_id: UUID) -> Cursor | None:
        """The cursor, or None before the worker first looked at the subscription."""
        found = self._one(
            "SELECT 1 AS found FROM webhook_cursors WHERE subscription_id = ?", _key(subscription_id)
        )
        if found:
            return self.cursor(subscription_id, 0)
        return None

    def advance(self, subscription_id: UUID, expected: int, target: int, attempt: Attempt | None) -> bool:
        """Record `attempt` (a success) and move the cursor from `expected` to `target`; False
        (nothing written) when the cursor is no longer at `expected`."""
        with self._cursor() as cursor:
            self._execute(
                cursor,
                f"UPDATE webhook_cursors SET delivered_through = ?, {_WELL} "  # noqa: S608 (constants only)
                "WHERE subscription_id = ? AND delivered_through = ? RETURNING subscription_id",
                (target, str(subscription_id), expected),
            )
            if not cursor.fetchall():
                return False
            if attempt is not None:
                self._log(cursor, attempt)
        return True

    def redelivered(self, attempt: Attempt, done: int) -> None:
        """Record a successful redelivery, the `done`-th request carried out."""
        with self._cursor() as cursor:
            self._execute(
                cursor,
                f"UPDATE webhook_cursors SET redeliveries_done = ?, {_WELL} "  # noqa: S608 (constants only)
                "WHERE subscription_id = ? AND redeliveries_done = ? RETURNING subscription_id",
                (done, str(attempt.subscription_id), done - 1),
            )
            if cursor.fetchall():
                self._log(cursor, attempt)

    def failed(self, attempt: Attempt, next_attempt_at: datetime) -> None:
        """Record a failed attempt and when to try again."""
        with self._cursor() as cursor:
            self._execute(
                cursor,
                "UPDATE webhook_cursors SET attempts = attempts + 1, "
                "failing_since = COALESCE(failing_since, ?), next_attempt_at = ?, last_error = ? "
                "WHERE subscription_id = ?",
                (
                    iso(attempt.attempted_at),
                    iso(next_attempt_at),
                    attempt.error,
                    str(attempt.subscription_id),
                ),
            )
            self._log(cursor, attempt)

    def clear_failure(self, subscription_id: UUID) -> None:
        """Forget a failing streak: a resumed subscription is tried again at once."""
        self._run(
            "UPDATE webhook_cursors SET attempts = 0, failing_since = NULL, next_attempt_at = NULL "
            "WHERE subscription_id = ?",
            (str(subscription_id),),
        )

    def attempts(self, subscription_id: UUID, before: int | None, limit: int) -> list[dict[str, Any]]:
        """The delivery log of one subscription, latest position first (then latest attempt first);
        only positions below `before` when given."""
        rows = self._all(
            "SELECT * FROM webhook_deliveries WHERE subscription_id = ? AND position < ? "
            "ORDER BY position DESC, attempt DESC LIMIT ?",
            (str(subscription_id), 2**63 - 1 if before is None else before, limit),
        )
        return [
            {**row, "subscription_id": subscription_id, "attempted_at": _time(row["attempted_at"])}
            for row in rows
        ]

    def _log(self, cursor: Any, attempt: Attempt) -> None:
        key = (str(attempt.subscription_id), attempt.position)
        self._execute(
            cursor,
            "SELECT COALESCE(MAX(attempt), 0) AS last FROM webhook_deliveries "
            "WHERE subscription_id = ? AND position = ?",
            key,
        )
        number = int(cursor.fetchone()["last"]) + 1
        self._execute(
            cursor,
            "INSERT INTO webhook_deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *key, number, attempt.kind, attempt.event_type, iso(attempt.attempted_at),
                attempt.outcome, attempt.status_code, attempt.error,
            ),
        )  # fmt: skip

    def _run(self, statement: str, params: tuple[Any, ...]) -> None:
        write(self._datastore, lambda cursor: self._execute(cursor, statement, params))

    def _one(self, statement: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        rows = self._all(statement, params)
        return rows[0] if rows else None

    def _all(self, statement: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self._cursor(commit=False) as cursor:
            self._execute(cursor, statement, params)
            return [dict(row) for row in cursor.fetchall()]

    def _execute(self, cursor: Any, statement: str, params: tuple[Any, ...]) -> None:
        cursor.execute(statement.replace("?", "%s") if self._postgres else statement, params)

    @contextmanager
    def _cursor(self, *, commit: bool = True) -> Iterator[Any]:
        # The library's transactions turn driver errors into its own, which translated_errors maps.
        with translated_errors(), self._datastore.transaction(commit=commit) as cursor:
            yield cursor


def _key(subscription_id: UUID) -> tuple[str]:
    return (str(subscription_id),)


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
