"""`interaction_log`: every interaction with its times, deadlines kept or missed, and outcome.

One row per interaction, updated as it moves (Ch. 4.3). Durations are seconds
from `received_at`. `first_response_on_time` is true when the first response
came at or before `response_due` (exactly at the limit is on time);
`handling_on_time`, for negative interactions only, when the first escalation
or resolution came at or before `handling_due`. A reopened interaction keeps
its first times; `reopened` counts how often it was reopened and the
resolution columns describe the latest resolution. No personal data (author,
text) is kept here: `personal_data_erased` and `erased_at` say when it was erased.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nm_workflow.domain.interaction import Interaction
from projections.base import Projection, Recorded, handles
from projections.keyed import OneRowPerAggregate
from projections.schema import Index, Table, col, insert
from projections.sql import Tx

LOG = Table(
    "interaction_log",
    (
        col("interaction_id", "uuid"),
        col("platform", "text"),
        col("platform_id", "text"),
        col("kind", "text"),
        col("sentiment", "text"),
        col("sentiment_source", "text"),
        col("item_id", "uuid", null=True),
        col("department", "text"),
        col("state", "text"),
        col("received_at", "time"),
        col("response_due", "time"),
        col("first_response_at", "time", null=True),
        col("first_response_seconds", "real", null=True),
        col("first_response_on_time", "bool", null=True),
        col("responses", "int"),
        col("handling_due", "time", null=True),
        col("escalated_at", "time", null=True),
        col("escalated_to", "text", null=True),
        col("escalations", "int"),
        col("handled_at", "time", null=True),
        col("handling_on_time", "bool", null=True),
        col("resolved_at", "time", null=True),
        col("resolution_seconds", "real", null=True),
        col("outcome", "text", null=True),
        col("reopened", "int"),
        col("personal_data_erased", "bool"),
        col("erased_at", "time", null=True),
        col("received_position", "bigint"),
        col("position", "bigint"),
    ),
    ("interaction_id",),
    (
        Index("received", ("received_at",)),
        Index("department", ("department", "received_at")),
        Index("position", ("received_position",), unique=True),
    ),
)
TIMES = (
    "received_at", "response_due", "first_response_at", "handling_due", "escalated_at", "handled_at",
    "resolved_at", "erased_at",
)  # fmt: skip


class InteractionLog(OneRowPerAggregate, Projection):
    name = "interaction_log"
    schema = (LOG,)
    row_table, row_key = LOG, "interaction_id"

    @handles(Interaction, "Received")
    def received(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        insert(tx, LOG, {
            "interaction_id": r.aggregate_id, "platform": e.platform, "platform_id": e.platform_id,
            "kind": e.kind, "sentiment": e.sentiment, "sentiment_source": e.sentiment_source,
            "item_id": e.item_id, "department": e.department, "state": "received",
            "received_at": e.received_at, "response_due": e.response_due, "responses": 0,
            "handling_due": e.handling_due, "escalations": 0, "reopened": 0,
            "personal_data_erased": False, "received_position": r.position, "position": r.position,
        })  # fmt: skip

    @handles(Interaction, "Responded")
    def responded(self, tx: Tx, r: Recorded) -> None:
        row = self._row(tx, r)
        changes: dict[str, Any] = {"responses": row["responses"] + 1}
        if row["first_response_at"] is None:
            at: datetime = r.event.replied_at
            changes |= {
                "first_response_at": at,
                "first_response_seconds": (at - row["received_at"]).total_seconds(),
                "first_response_on_time": at <= row["response_due"],
            }
        if row["state"] in ("received", "reopened"):
            changes["state"] = "responded"
        self._update(tx, r, changes)

    @handles(Interaction, "Escalated")
    def escalated(self, tx: Tx, r: Recorded) -> None:
        row = self._row(tx, r)
        at: datetime = r.event.escalated_at
        changes: dict[str, Any] = {
            "state": "escalated", "department": r.event.department, "escalations": row["escalations"] + 1,
        }  # fmt: skip
        if row["escalated_at"] is None:
            changes |= {"escalated_at": at, "escalated_to": r.event.department}
            changes |= self._handling(row, at)
        self._update(tx, r, changes)

    @handles(Interaction, "HandledByDepartment")
    def handled(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, {"state": "handled", "handled_at": r.event.handled_at})

    @handles(Interaction, "Resolved")
    def resolved(self, tx: Tx, r: Recorded) -> None:
        row = self._row(tx, r)
        at: datetime = r.event.resolved_at
        changes: dict[str, Any] = {
            "state": "resolved", "resolved_at": at, "outcome": r.event.outcome,
            "resolution_seconds": (at - row["received_at"]).total_seconds(),
        }  # fmt: skip
        self._update(tx, r, changes | self._handling(row, at))

    @handles(Interaction, "Reopened")
    def reopened(self, tx: Tx, r: Recorded) -> None:
        row = self._row(tx, r)
        self._update(tx, r, {"state": "reopened", "reopened": row["reopened"] + 1})

    @handles(Interaction, "PersonalDataErased")
    def erased(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, {"personal_data_erased": True, "erased_at": r.at})

    @staticmethod
    def _handling(row: dict[str, Any], at: datetime) -> dict[str, Any]:
        """The negative-handling verdict, decided by the first escalation or resolution."""
        if row["handling_due"] is None or row["handling_on_time"] is not None:
            return {}
        return {"handling_on_time": at <= row["handling_due"]}
