"""`interaction_queue`: interactions that still need a step of customer service or a department.

One row per open interaction (Ch. 4.3): the next required step and when it is
due. `next_step` is `respond` while a response is owed, `escalate_or_resolve`
for a negative interaction neither escalated nor resolved yet (when both are
owed, the earlier deadline is `due_at`), `handle` while the department it was
escalated to has not recorded its handling, else `resolve` (no deadline).
Whether a row is overdue depends on the time you ask: `due_at < now`
(the query API adds `overdue`). A resolved interaction leaves the queue for
`interaction_queue_resolved`, this projection's own bookkeeping, and comes back
when reopened. No personal data (author, text) is kept here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nm_workflow.domain.interaction import Interaction
from projections.base import Projection, Recorded, handles
from projections.schema import Column, Index, Table, col, insert, row_of
from projections.sql import Row, Tx

COLUMNS: tuple[Column, ...] = (
    col("interaction_id", "uuid"),
    col("platform", "text"),
    col("platform_id", "text"),
    col("kind", "text"),
    col("sentiment", "text"),
    col("department", "text"),
    col("state", "text"),
    col("escalation", "text"),
    col("received_at", "time"),
    col("response_due", "time", null=True),
    col("handling_due", "time", null=True),
    col("next_step", "text"),
    col("due_at", "time", null=True),
    col("position", "bigint"),
)
QUEUE = Table(
    "interaction_queue",
    COLUMNS,
    ("interaction_id",),
    (Index("department", ("department", "due_at")), Index("due", ("due_at",))),
)
RESOLVED = Table("interaction_queue_resolved", COLUMNS, ("interaction_id",))
TIMES = ("received_at", "response_due", "handling_due", "due_at")


def next_step(row: Row) -> tuple[str, datetime | None]:
    """The step the interaction waits for, and its deadline (None: no deadline)."""
    owed = [(due, step) for due, step in (
        (row["response_due"], "respond"), (row["handling_due"], "escalate_or_resolve"),
    ) if due is not None]  # fmt: skip
    if owed:
        due, step = min(owed)
        return step, due
    return ("handle" if row["escalation"] == "escalated" else "resolve"), None


class InteractionQueue(Projection):
    name = "interaction_queue"
    schema = (QUEUE, RESOLVED)

    @handles(Interaction, "Received")
    def received(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        row: Row = {
            "interaction_id": r.aggregate_id, "platform": e.platform, "platform_id": e.platform_id,
            "kind": e.kind, "sentiment": e.sentiment, "department": e.department, "state": "received",
            "escalation": "none", "received_at": e.received_at, "response_due": e.response_due,
            "handling_due": e.handling_due,
        }  # fmt: skip
        self._write(tx, r, row)

    @handles(Interaction, "Responded")
    def responded(self, tx: Tx, r: Recorded) -> None:
        self._change(tx, r, lambda row: {"response_due": None, "state": _after_response(row["state"])})

    @handles(Interaction, "Escalated")
    def escalated(self, tx: Tx, r: Recorded) -> None:
        department = r.event.department
        self._change(tx, r, lambda _: {"department": department, "state": "escalated",
                                       "escalation": "escalated", "handling_due": None})  # fmt: skip

    @handles(Interaction, "HandledByDepartment")
    def handled(self, tx: Tx, r: Recorded) -> None:
        self._change(tx, r, lambda _: {"state": "handled", "escalation": "handled"})

    @handles(Interaction, "Resolved")
    def resolved(self, tx: Tx, r: Recorded) -> None:
        row = self._take(tx, r.aggregate_id, QUEUE)
        if row is not None:
            closed = {"state": "resolved", "response_due": None, "handling_due": None}
            insert(tx, RESOLVED, row | closed | {"next_step": "none", "due_at": None, "position": r.position})

    @handles(Interaction, "Reopened")
    def reopened(self, tx: Tx, r: Recorded) -> None:
        row = self._take(tx, r.aggregate_id, RESOLVED)
        if row is not None:
            self._write(tx, r, row | {"state": "reopened", "response_due": r.event.response_due})

    def _change(self, tx: Tx, r: Recorded, changes: Any) -> None:
        row = self._take(tx, r.aggregate_id, QUEUE)
        if row is not None:
            self._write(tx, r, row | changes(row))

    def _write(self, tx: Tx, r: Recorded, row: Row) -> None:
        step, due = next_step(row)
        insert(tx, QUEUE, row | {"next_step": step, "due_at": due, "position": r.position})

    @staticmethod
    def _take(tx: Tx, interaction_id: Any, table: Table) -> Row | None:
        """Remove and return the interaction's row of `table` (decoded), if it has one."""
        key = {"interaction_id": interaction_id}
        found = row_of(tx, table, key)
        if found is not None:
            tx.execute(f"DELETE FROM {{{table.name}}} WHERE interaction_id = :interaction_id", key)  # noqa: S608
        return found


def _after_response(state: str) -> str:
    return "responded" if state in ("received", "reopened") else state
