"""`review_queue`: items waiting for a review stage; `review_history`: every wait, closed.

An item waits at one stage at a time, along the chain its ReviewRequested
event recorded (the seed policy's: editor -> department_head -> legal). A
wait opens on ReviewRequested (first stage) or on the approval of the stage before;
it closes on the stage's approval, on ChangesRequested, on a new draft
(superseded) or on cancellation, and then moves to `review_history` with its
outcome. `due_by` is the wait's start plus the stage's hours recorded with the
review request (the policy version in force then; events from before the
policy was versioned use the review_stage_hours setting);
whether a waiting item is overdue depends on the time you ask, so it is not
stored: the view `review_queue_now` adds it, as does the query API.
`review_item` and `review_terms` are this projection's own bookkeeping
(department and theme of each item; the chain and deadlines of its latest
review request), not part of the documented contract.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.review import next_stage, recorded_chain
from nm_workflow.domain.roles import Stage
from projections.base import Projection, Recorded, handles
from projections.rows import Appended, Keyed
from projections.schema import Index, Table, col
from projections.sql import Tx

REVIEW_ITEM = Table("review_item", (col("item_id", "uuid"), col("department", "text"), col("theme", "text")),
                    ("item_id",))  # fmt: skip
REVIEW_QUEUE = Table(
    "review_queue",
    (
        col("item_id", "uuid"), col("stage", "text"), col("role", "text"), col("department", "text"),
        col("theme", "text"), col("revision", "int"), col("submitted_by", "text", null=True),
        col("waiting_since", "time"), col("due_by", "time"), col("position", "bigint"),
    ),
    ("item_id",),
    (Index("stage", ("stage", "department", "due_by")),),
)  # fmt: skip
REVIEW_HISTORY = Table(
    "review_history",
    (
        col("position", "bigint"), col("item_id", "uuid"), col("stage", "text"), col("role", "text"),
        col("department", "text"), col("revision", "int"), col("waiting_since", "time"),
        col("due_by", "time"), col("decided_at", "time"), col("outcome", "text"),
        col("decided_by", "text", null=True), col("wait_seconds", "real"), col("overdue", "bool"),
    ),
    ("position",),
    (Index("item", ("item_id", "position")), Index("decided", ("decided_at", "stage"))),
)  # fmt: skip
REVIEW_TERMS = Table(
    "review_terms", (col("item_id", "uuid"), col("chain", "json"), col("stage_hours", "json")), ("item_id",)
)
ITEMS, QUEUE = Keyed(REVIEW_ITEM, ("item_id",)), Keyed(REVIEW_QUEUE, ("item_id",))
HISTORY, TERMS = Appended(REVIEW_HISTORY), Keyed(REVIEW_TERMS, ("item_id",))

SQLITE_VIEWS = """
CREATE VIEW IF NOT EXISTS review_queue_now AS
SELECT q.*, q.due_by < strftime('%Y-%m-%d %H:%M:%f', 'now') AS overdue FROM review_queue AS q
"""

POSTGRES_VIEWS = """
CREATE OR REPLACE VIEW review_queue_now AS
SELECT q.*, q.due_by < now() AS overdue FROM review_queue AS q
"""

QUEUE_TIMES = ("waiting_since", "due_by")
HISTORY_TIMES = ("waiting_since", "due_by", "decided_at")


class ReviewQueue(Projection):
    name = "review_queue"
    schema = (REVIEW_QUEUE, REVIEW_HISTORY, REVIEW_ITEM, REVIEW_TERMS)
    batch_tables = (QUEUE, HISTORY, ITEMS, TERMS)
    sqlite_views = SQLITE_VIEWS
    postgres_views = POSTGRES_VIEWS
    _approved_stage: ClassVar[dict[str, Stage]] = {
        "EditoriallyApproved": Stage.EDITOR,
        "DepartmentHeadApproved": Stage.DEPARTMENT_HEAD,
        "LegallyApproved": Stage.LEGAL,
        "ManagementApproved": Stage.MANAGEMENT,
    }

    @handles(ContentItem, "Planned")
    def planned(self, tx: Tx, r: Recorded) -> None:
        ITEMS.put(tx, {"item_id": r.aggregate_id, "department": r.event.department, "theme": r.event.theme})

    @handles(ContentItem, "ReviewRequested")
    def review_requested(self, tx: Tx, r: Recorded) -> None:
        self._close(tx, r, "superseded", None)  # only if a wait is open, which the domain rules out
        chain = recorded_chain(r.event.chain)
        hours = r.event.stage_hours or dict.fromkeys(chain, self.settings.review_stage_hours)
        TERMS.put(tx, {"item_id": r.aggregate_id, "chain": chain, "stage_hours": dict(hours)})
        self._open(tx, r, Stage(r.event.stage), hours)

    @handles(ContentItem, "EditoriallyApproved", "DepartmentHeadApproved", "LegallyApproved")
    @handles(ContentItem, "ManagementApproved")
    def approved(self, tx: Tx, r: Recorded) -> None:
        self._close(tx, r, "approved", r.event.reviewer_id)
        chain, hours = self._terms(tx, r)
        following = next_stage(chain, self._approved_stage[type(r.event).__name__])
        if following is not None:
            self._open(tx, r, following, hours)

    @handles(ContentItem, "ChangesRequested")
    def changes_requested(self, tx: Tx, r: Recorded) -> None:
        self._close(tx, r, "changes_requested", r.event.reviewer_id)

    @handles(ContentItem, "Drafted")
    def drafted(self, tx: Tx, r: Recorded) -> None:
        self._close(tx, r, "superseded", r.actor)

    @handles(ContentItem, "Cancelled")
    def cancelled(self, tx: Tx, r: Recorded) -> None:
        self._close(tx, r, "cancelled", r.actor)

    def _terms(self, tx: Tx, r: Recorded) -> tuple[list[str], dict[str, int]]:
        """The chain and stage hours of the item's latest review request."""
        row = TERMS.get(tx, (r.aggregate_id,))
        if row is None:  # requested before this table existed: the seed chain, the setting's hours
            chain = recorded_chain(None)
            return chain, dict.fromkeys(chain, self.settings.review_stage_hours)
        return row["chain"], row["stage_hours"]

    def _open(self, tx: Tx, r: Recorded, stage: Stage, hours: dict[str, int]) -> None:
        """Open the wait at `stage`, `hours` the request's stage hours (none without the item's row)."""
        item = ITEMS.get(tx, (r.aggregate_id,))
        if item is None:
            return
        QUEUE.put(tx, {
            "item_id": r.aggregate_id, "stage": stage.value, "role": stage.reviewer_role.value,
            "department": item["department"], "theme": item["theme"], "revision": r.event.revision,
            "submitted_by": r.actor, "waiting_since": r.at,
            "due_by": r.at + timedelta(hours=hours[stage.value]), "position": r.position,
        })  # fmt: skip

    def _close(self, tx: Tx, r: Recorded, outcome: str, decided_by: str | None) -> None:
        waiting = QUEUE.get(tx, (r.aggregate_id,))
        if waiting is None:
            return
        since, due_by = waiting["waiting_since"], waiting["due_by"]
        HISTORY.add(tx, {
            "position": r.position, "item_id": r.aggregate_id, "stage": waiting["stage"],
            "role": waiting["role"], "department": waiting["department"],
            "revision": waiting["revision"], "waiting_since": since, "due_by": due_by, "decided_at": r.at,
            "outcome": outcome, "decided_by": decided_by, "wait_seconds": (r.at - since).total_seconds(),
            "overdue": r.at > due_by,
        })  # fmt: skip
        QUEUE.delete(tx, (r.aggregate_id,))
