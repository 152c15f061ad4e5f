"""`feedback_log`: every piece of feedback (Ch. 6.3), from submission to its outcome.

One row per feedback. `improvements` counts the improvements recorded;
`time_to_close_seconds` runs from submission to closing. The text of the
feedback is not copied here (read it at `GET /feedback/{id}`).
"""

from __future__ import annotations

from nm_workflow.domain.feedback import Feedback
from projections.base import Projection, Recorded, handles
from projections.keyed import OneRowPerAggregate
from projections.schema import Index, Table, col, insert
from projections.sql import Tx

LOG = Table(
    "feedback_log",
    (
        col("feedback_id", "uuid"),
        col("subject", "text"),
        col("subject_ref", "text", null=True),
        col("source", "text"),
        col("submitted_by", "text"),
        col("department", "text"),
        col("owner_id", "text", null=True),
        col("state", "text"),
        col("submitted_at", "time"),
        col("triaged_at", "time", null=True),
        col("improvements", "int"),
        col("last_improvement_at", "time", null=True),
        col("closed_at", "time", null=True),
        col("outcome", "text", null=True),
        col("reason", "text", null=True),
        col("time_to_close_seconds", "real", null=True),
        col("submitted_position", "bigint"),
        col("position", "bigint"),
    ),
    ("feedback_id",),
    (
        Index("submitter", ("submitted_by", "submitted_position")),
        Index("department", ("department", "state")),
        Index("position", ("submitted_position",), unique=True),
    ),
)


class FeedbackLog(OneRowPerAggregate, Projection):
    name = "feedback_log"
    schema = (LOG,)
    row_table, row_key = LOG, "feedback_id"

    @handles(Feedback, "Submitted")
    def submitted(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        insert(tx, LOG, {
            "feedback_id": r.aggregate_id, "subject": e.subject, "subject_ref": e.subject_ref,
            "source": e.source, "submitted_by": e.submitted_by, "department": e.department,
            "state": "submitted", "submitted_at": r.at, "improvements": 0,
            "submitted_position": r.position, "position": r.position,
        })  # fmt: skip

    @handles(Feedback, "Triaged")
    def triaged(self, tx: Tx, r: Recorded) -> None:
        row = self._row(tx, r)
        changes = {"department": r.event.department, "owner_id": r.event.owner_id, "triaged_at": r.at}
        if row["state"] == "submitted":
            changes["state"] = "triaged"
        self._update(tx, r, changes)

    @handles(Feedback, "ImprovementRecorded")
    def improvement_recorded(self, tx: Tx, r: Recorded) -> None:
        row = self._row(tx, r)
        self._update(
            tx,
            r,
            {"state": "improving", "improvements": row["improvements"] + 1, "last_improvement_at": r.at},
        )

    @handles(Feedback, "Closed")
    def closed(self, tx: Tx, r: Recorded) -> None:
        row = self._row(tx, r)
        self._update(tx, r, {
            "state": "closed", "closed_at": r.at, "outcome": r.event.outcome, "reason": r.event.reason,
            "time_to_close_seconds": (r.at - row["submitted_at"]).total_seconds(),
        })  # fmt: skip
