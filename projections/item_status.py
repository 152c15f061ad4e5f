"""`item_status`: one row per content item, its state and the time of each milestone."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.review import next_stage, recorded_chain
from nm_workflow.domain.roles import Stage
from projections.base import Projection, Recorded, handles
from projections.rows import Keyed
from projections.schema import Index, Table, col
from projections.sql import Row, Tx

# Bookkeeping: the chain of each item's latest review request, to know which stage follows.
ITEM_REVIEW_CHAIN = Table("item_review_chain", (col("item_id", "uuid"), col("chain", "json")), ("item_id",))
CHAINS = Keyed(ITEM_REVIEW_CHAIN, ("item_id",))

_MILESTONES = (
    "first_drafted_at", "last_drafted_at", "review_requested_at", "editor_approved_at",
    "department_head_approved_at", "legal_approved_at", "first_published_at", "last_published_at",
    "withdrawn_at", "cancelled_at",
)  # fmt: skip
ITEM_STATUS = Table(
    "item_status",
    (
        col("item_id", "uuid"), col("state", "text"), col("review_stage", "text", null=True),
        col("revision", "int", null=True), col("content_hash", "text", null=True),
        col("approved_revision", "int", null=True), col("department", "text"), col("theme", "text"),
        col("format", "text"), col("platforms", "json"), col("campaign", "text", null=True),
        col("planned_publish_date", "date", null=True), col("planned_by", "text"), col("planned_at", "time"),
        *(col(name, "time", null=True) for name in _MILESTONES),
        col("closing_reason", "text", null=True), col("version", "int"), col("updated_at", "time"),
        col("planned_position", "bigint"), col("position", "bigint"),
    ),
    ("item_id",),
    (
        Index("state", ("state", "department")),
        Index("department", ("department", "planned_position")),
        Index("campaign", ("campaign",)),
        # The position of the item's Planned event, set once: its rows are upserted (ADR 0073).
        Index("planned_position", ("planned_position",), unique=True, fixed=True),
    ),
)  # fmt: skip
ITEMS = Keyed(ITEM_STATUS, ("item_id",))

TIMES = ("planned_at", *_MILESTONES, "updated_at")

# A new draft or requested changes void the review so far.
_VOID_REVIEW = dict.fromkeys(
    (
        "review_stage",
        "approved_revision",
        "editor_approved_at",
        "department_head_approved_at",
        "legal_approved_at",
    )
)


class ItemStatus(Projection):
    name = "item_status"
    schema = (ITEM_STATUS, ITEM_REVIEW_CHAIN)
    batch_tables = (ITEMS, CHAINS)
    # Stage approved -> its column (None: management's stage has none) and the stage itself.
    _approval_column: ClassVar[dict[str, tuple[str | None, Stage]]] = {
        "EditoriallyApproved": ("editor_approved_at", Stage.EDITOR),
        "DepartmentHeadApproved": ("department_head_approved_at", Stage.DEPARTMENT_HEAD),
        "LegallyApproved": ("legal_approved_at", Stage.LEGAL),
        "ManagementApproved": (None, Stage.MANAGEMENT),
    }

    @handles(ContentItem, "Planned")
    def planned(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        ITEMS.put(tx, {
            "item_id": r.aggregate_id, "state": "planned", "review_stage": None, "revision": None,
            "content_hash": None, "approved_revision": None, "department": e.department, "theme": e.theme,
            "format": e.format, "platforms": list(e.platforms), "campaign": e.campaign,
            "planned_publish_date": e.planned_publish_date, "planned_by": e.planner_id, "planned_at": r.at,
            **dict.fromkeys(_MILESTONES), "closing_reason": None, "version": r.version, "updated_at": r.at,
            "planned_position": r.position, "position": r.position,
        })  # fmt: skip

    @handles(ContentItem, "Drafted")
    def drafted(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, lambda row: _VOID_REVIEW | {
            "state": "drafting", "revision": r.event.revision, "content_hash": r.event.content_hash,
            "first_drafted_at": row["first_drafted_at"] or r.at, "last_drafted_at": r.at,
        })  # fmt: skip

    @handles(ContentItem, "ReviewRequested")
    def review_requested(self, tx: Tx, r: Recorded) -> None:
        CHAINS.put(tx, {"item_id": r.aggregate_id, "chain": recorded_chain(r.event.chain)})
        self._update(tx, r, lambda _: {
            "state": "in_review", "review_stage": str(r.event.stage), "review_requested_at": r.at,
        })  # fmt: skip

    @handles(ContentItem, "EditoriallyApproved", "DepartmentHeadApproved", "LegallyApproved")
    @handles(ContentItem, "ManagementApproved")
    def approved(self, tx: Tx, r: Recorded) -> None:
        column, stage = self._approval_column[type(r.event).__name__]
        row = CHAINS.get(tx, (r.aggregate_id,))
        following = next_stage(recorded_chain(None if row is None else row["chain"]), stage)
        stamp = {} if column is None else {column: r.at}
        if following is None:
            change = {"state": "approved", "review_stage": None, "approved_revision": r.event.revision}
        else:
            change = {"review_stage": following.value}
        self._update(tx, r, lambda _: change | stamp)

    @handles(ContentItem, "ChangesRequested")
    def changes_requested(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, lambda _: _VOID_REVIEW | {"state": "drafting"})

    @handles(ContentItem, "Scheduled", "MetricsRecorded")
    def touched(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, lambda _: {})

    @handles(ContentItem, "Published")
    def published(self, tx: Tx, r: Recorded) -> None:
        at = r.event.published_at  # recorded late or out of order: the earliest and the latest
        self._update(tx, r, lambda row: {
            "state": "published",
            "first_published_at": min(at, row["first_published_at"] or at),
            "last_published_at": max(at, row["last_published_at"] or at),
        })  # fmt: skip

    @handles(ContentItem, "Withdrawn")
    def withdrawn(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, lambda _: {
            "state": "withdrawn", "withdrawn_at": r.at, "closing_reason": r.event.reason,
        })  # fmt: skip

    @handles(ContentItem, "Cancelled")
    def cancelled(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, lambda _: {
            "state": "cancelled", "review_stage": None, "cancelled_at": r.at,
            "closing_reason": r.event.reason,
        })  # fmt: skip

    @staticmethod
    def _update(tx: Tx, r: Recorded, change: Callable[[Row], Row]) -> None:
        """The item's row changed by `change(row)`, and stamped with the event (no row: nothing)."""
        row = ITEMS.get(tx, (r.aggregate_id,))
        if row is not None:
            ITEMS.put(
                tx, row | change(row) | {"version": r.version, "updated_at": r.at, "position": r.position}
            )
