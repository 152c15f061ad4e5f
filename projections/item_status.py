"""`item_status`: one row per content item, its state and the time of each milestone."""

from __future__ import annotations

from typing import ClassVar

from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.review import next_stage, recorded_chain
from nm_workflow.domain.roles import Stage
from projections.base import Projection, Recorded, handles
from projections.rows import Keyed
from projections.schema import Table, col, schema_ddl
from projections.sql import POSTGRES, SQLITE, Tx

# Bookkeeping: the chain of each item's latest review request, to know which stage follows.
ITEM_REVIEW_CHAIN = Table("item_review_chain", (col("item_id", "uuid"), col("chain", "json")), ("item_id",))
CHAINS = Keyed(ITEM_REVIEW_CHAIN, ("item_id",))

SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS {item_status} (
    item_id                     TEXT PRIMARY KEY,
    state                       TEXT NOT NULL,
    review_stage                TEXT,
    revision                    INTEGER,
    content_hash                TEXT,
    approved_revision           INTEGER,
    department                  TEXT NOT NULL,
    theme                       TEXT NOT NULL,
    format                      TEXT NOT NULL,
    platforms                   TEXT NOT NULL,
    campaign                    TEXT,
    planned_publish_date        TEXT,
    planned_by                  TEXT NOT NULL,
    planned_at                  TEXT NOT NULL,
    first_drafted_at            TEXT,
    last_drafted_at             TEXT,
    review_requested_at         TEXT,
    editor_approved_at          TEXT,
    department_head_approved_at TEXT,
    legal_approved_at           TEXT,
    first_published_at          TEXT,
    last_published_at           TEXT,
    withdrawn_at                TEXT,
    cancelled_at                TEXT,
    closing_reason              TEXT,
    version                     INTEGER NOT NULL,
    updated_at                  TEXT NOT NULL,
    planned_position            INTEGER NOT NULL,
    position                    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {item_status}_state ON {item_status} (state, department);
CREATE INDEX IF NOT EXISTS {item_status}_department ON {item_status} (department, planned_position);
CREATE INDEX IF NOT EXISTS {item_status}_campaign ON {item_status} (campaign);
CREATE UNIQUE INDEX IF NOT EXISTS {item_status}_planned_position ON {item_status} (planned_position)
"""

POSTGRES_DDL = """
CREATE TABLE IF NOT EXISTS {item_status} (
    item_id                     uuid PRIMARY KEY,
    state                       text NOT NULL,
    review_stage                text,
    revision                    integer,
    content_hash                text,
    approved_revision           integer,
    department                  text NOT NULL,
    theme                       text NOT NULL,
    format                      text NOT NULL,
    platforms                   jsonb NOT NULL,
    campaign                    text,
    planned_publish_date        date,
    planned_by                  text NOT NULL,
    planned_at                  timestamptz NOT NULL,
    first_drafted_at            timestamptz,
    last_drafted_at             timestamptz,
    review_requested_at         timestamptz,
    editor_approved_at          timestamptz,
    department_head_approved_at timestamptz,
    legal_approved_at           timestamptz,
    first_published_at          timestamptz,
    last_published_at           timestamptz,
    withdrawn_at                timestamptz,
    cancelled_at                timestamptz,
    closing_reason              text,
    version                     integer NOT NULL,
    updated_at                  timestamptz NOT NULL,
    planned_position            bigint NOT NULL,
    position                    bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS {item_status}_state ON {item_status} (state, department);
CREATE INDEX IF NOT EXISTS {item_status}_department ON {item_status} (department, planned_position);
CREATE INDEX IF NOT EXISTS {item_status}_campaign ON {item_status} (campaign);
CREATE UNIQUE INDEX IF NOT EXISTS {item_status}_planned_position ON {item_status} (planned_position)
"""

TIMES = (
    "planned_at", "first_drafted_at", "last_drafted_at", "review_requested_at", "editor_approved_at",
    "department_head_approved_at", "legal_approved_at", "first_published_at", "last_published_at",
    "withdrawn_at", "cancelled_at", "updated_at",
)  # fmt: skip

_VOID_REVIEW = (
    "review_stage = NULL, approved_revision = NULL, editor_approved_at = NULL, "
    "department_head_approved_at = NULL, legal_approved_at = NULL"
)


class ItemStatus(Projection):
    name = "item_status"
    tables = ("item_status", "item_review_chain")
    sqlite_ddl = SQLITE_DDL + ";\n" + schema_ddl((ITEM_REVIEW_CHAIN,), SQLITE)
    postgres_ddl = POSTGRES_DDL + ";\n" + schema_ddl((ITEM_REVIEW_CHAIN,), POSTGRES)
    batch_tables = (CHAINS,)
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
        tx.execute(
            "INSERT INTO {item_status} (item_id, state, department, theme, format, platforms, campaign, "
            "planned_publish_date, planned_by, planned_at, version, updated_at, planned_position, position) "
            "VALUES (:id, 'planned', :department, :theme, :format, :platforms, :campaign, :date, :by, "
            ":at, :version, :at, :position, :position)",
            {
                "id": r.aggregate_id, "department": e.department, "theme": e.theme, "format": e.format,
                "platforms": tx.dialect.json(list(e.platforms)), "campaign": e.campaign,
                "date": e.planned_publish_date, "by": e.planner_id, "at": r.at,
                "version": r.version, "position": r.position,
            },
        )  # fmt: skip

    @handles(ContentItem, "Drafted")
    def drafted(self, tx: Tx, r: Recorded) -> None:
        self._update(
            tx, r,
            "state = 'drafting', revision = :revision, content_hash = :hash, "
            "first_drafted_at = COALESCE(first_drafted_at, :at), last_drafted_at = :at, " + _VOID_REVIEW,
            revision=r.event.revision, hash=r.event.content_hash,
        )  # fmt: skip

    @handles(ContentItem, "ReviewRequested")
    def review_requested(self, tx: Tx, r: Recorded) -> None:
        CHAINS.put(tx, {"item_id": r.aggregate_id, "chain": recorded_chain(r.event.chain)})
        self._update(
            tx, r, "state = 'in_review', review_stage = :stage, review_requested_at = :at",
            stage=str(r.event.stage),
        )  # fmt: skip

    @handles(ContentItem, "EditoriallyApproved", "DepartmentHeadApproved", "LegallyApproved")
    @handles(ContentItem, "ManagementApproved")
    def approved(self, tx: Tx, r: Recorded) -> None:
        column, stage = self._approval_column[type(r.event).__name__]
        row = CHAINS.get(tx, (r.aggregate_id,))
        chain = recorded_chain(None if row is None else row["chain"])
        following = next_stage(chain, stage)
        stamp = "" if column is None else f", {column} = :at"
        if following is None:
            change = "state = 'approved', review_stage = NULL, approved_revision = :revision" + stamp
        else:
            change = f"review_stage = '{following.value}'" + stamp
        self._update(tx, r, change, revision=r.event.revision)

    @handles(ContentItem, "ChangesRequested")
    def changes_requested(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, "state = 'drafting', " + _VOID_REVIEW)

    @handles(ContentItem, "Scheduled", "MetricsRecorded")
    def touched(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, "state = state")

    @handles(ContentItem, "Published")
    def published(self, tx: Tx, r: Recorded) -> None:
        self._update(
            tx, r,
            "state = 'published', "
            "first_published_at = CASE WHEN first_published_at IS NULL OR first_published_at > :published "
            "THEN :published ELSE first_published_at END, "
            "last_published_at = CASE WHEN last_published_at IS NULL OR last_published_at < :published "
            "THEN :published ELSE last_published_at END",
            published=r.event.published_at,
        )  # fmt: skip

    @handles(ContentItem, "Withdrawn")
    def withdrawn(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, "state = 'withdrawn', withdrawn_at = :at, closing_reason = :reason",
                     reason=r.event.reason)  # fmt: skip

    @handles(ContentItem, "Cancelled")
    def cancelled(self, tx: Tx, r: Recorded) -> None:
        self._update(tx, r, "state = 'cancelled', review_stage = NULL, cancelled_at = :at, "
                     "closing_reason = :reason", reason=r.event.reason)  # fmt: skip

    @staticmethod
    def _update(tx: Tx, r: Recorded, change: str, **values: object) -> None:
        tx.execute(
            f"UPDATE {{item_status}} SET {change}, version = :version, updated_at = :at, "  # noqa: S608
            "position = :position WHERE item_id = :id",
            {"id": r.aggregate_id, "at": r.at, "version": r.version, "position": r.position, **values},
        )
