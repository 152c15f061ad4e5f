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
from projections.schema import Table, col, schema_ddl
from projections.sql import POSTGRES, SQLITE, Tx

REVIEW_TERMS = Table(
    "review_terms", (col("item_id", "uuid"), col("chain", "json"), col("stage_hours", "json")), ("item_id",)
)

SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS {review_item} (
    item_id    TEXT PRIMARY KEY,
    department TEXT NOT NULL,
    theme      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {review_queue} (
    item_id       TEXT PRIMARY KEY,
    stage         TEXT NOT NULL,
    role          TEXT NOT NULL,
    department    TEXT NOT NULL,
    theme         TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    submitted_by  TEXT,
    waiting_since TEXT NOT NULL,
    due_by        TEXT NOT NULL,
    position      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {review_queue}_stage ON {review_queue} (stage, department, due_by);
CREATE TABLE IF NOT EXISTS {review_history} (
    position      INTEGER PRIMARY KEY,
    item_id       TEXT NOT NULL,
    stage         TEXT NOT NULL,
    role          TEXT NOT NULL,
    department    TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    waiting_since TEXT NOT NULL,
    due_by        TEXT NOT NULL,
    decided_at    TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    decided_by    TEXT,
    wait_seconds  REAL NOT NULL,
    overdue       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {review_history}_item ON {review_history} (item_id, position);
CREATE INDEX IF NOT EXISTS {review_history}_decided ON {review_history} (decided_at, stage)
"""

POSTGRES_DDL = """
CREATE TABLE IF NOT EXISTS {review_item} (
    item_id    uuid PRIMARY KEY,
    department text NOT NULL,
    theme      text NOT NULL
);
CREATE TABLE IF NOT EXISTS {review_queue} (
    item_id       uuid PRIMARY KEY,
    stage         text NOT NULL,
    role          text NOT NULL,
    department    text NOT NULL,
    theme         text NOT NULL,
    revision      integer NOT NULL,
    submitted_by  text,
    waiting_since timestamptz NOT NULL,
    due_by        timestamptz NOT NULL,
    position      bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS {review_queue}_stage ON {review_queue} (stage, department, due_by);
CREATE TABLE IF NOT EXISTS {review_history} (
    position      bigint PRIMARY KEY,
    item_id       uuid NOT NULL,
    stage         text NOT NULL,
    role          text NOT NULL,
    department    text NOT NULL,
    revision      integer NOT NULL,
    waiting_since timestamptz NOT NULL,
    due_by        timestamptz NOT NULL,
    decided_at    timestamptz NOT NULL,
    outcome       text NOT NULL,
    decided_by    text,
    wait_seconds  double precision NOT NULL,
    overdue       boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS {review_history}_item ON {review_history} (item_id, position);
CREATE INDEX IF NOT EXISTS {review_history}_decided ON {review_history} (decided_at, stage)
"""

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
    tables = ("review_queue", "review_history", "review_item", "review_terms")
    sqlite_ddl = SQLITE_DDL + ";\n" + schema_ddl((REVIEW_TERMS,), SQLITE)
    postgres_ddl = POSTGRES_DDL + ";\n" + schema_ddl((REVIEW_TERMS,), POSTGRES)
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
        tx.execute(
            "INSERT INTO {review_item} (item_id, department, theme) VALUES (:id, :department, :theme)",
            {"id": r.aggregate_id, "department": r.event.department, "theme": r.event.theme},
        )

    @handles(ContentItem, "ReviewRequested")
    def review_requested(self, tx: Tx, r: Recorded) -> None:
        self._close(tx, r, "superseded", None)  # only if a wait is open, which the domain rules out
        chain = recorded_chain(r.event.chain)
        hours = r.event.stage_hours or dict.fromkeys(chain, self.settings.review_stage_hours)
        params = {"id": r.aggregate_id, "chain": tx.dialect.json(chain), "hours": tx.dialect.json(hours)}
        tx.execute("DELETE FROM {review_terms} WHERE item_id = :id", params)
        tx.execute(
            "INSERT INTO {review_terms} (item_id, chain, stage_hours) VALUES (:id, :chain, :hours)", params
        )
        self._open(tx, r, Stage(r.event.stage))

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
        row = tx.one(
            "SELECT chain, stage_hours FROM {review_terms} WHERE item_id = :id", {"id": r.aggregate_id}
        )
        if row is None:  # requested before this table existed: the seed chain, the setting's hours
            chain = recorded_chain(None)
            return chain, dict.fromkeys(chain, self.settings.review_stage_hours)
        return tx.dialect.json_out(row["chain"]), tx.dialect.json_out(row["stage_hours"])

    def _open(self, tx: Tx, r: Recorded, stage: Stage, hours: dict[str, int] | None = None) -> None:
        """Open the wait at `stage`; `hours`: the request's stage hours when the caller read them."""
        if hours is None:
            _, hours = self._terms(tx, r)
        due_by = r.at + timedelta(hours=hours[stage.value])
        tx.execute(
            "INSERT INTO {review_queue} (item_id, stage, role, department, theme, revision, submitted_by, "
            "waiting_since, due_by, position) "
            "SELECT item_id, :stage, :role, department, theme, :revision, :by, :at, :due_by, :position "
            "FROM {review_item} WHERE item_id = :id",
            {
                "id": r.aggregate_id, "stage": stage.value, "role": stage.reviewer_role.value,
                "revision": r.event.revision, "by": r.actor, "at": r.at, "due_by": due_by,
                "position": r.position,
            },
        )  # fmt: skip

    def _close(self, tx: Tx, r: Recorded, outcome: str, decided_by: str | None) -> None:
        waiting = tx.one("SELECT * FROM {review_queue} WHERE item_id = :id", {"id": r.aggregate_id})
        if waiting is None:
            return
        since, due_by = tx.dialect.time_out(waiting["waiting_since"]), tx.dialect.time_out(waiting["due_by"])
        assert since is not None
        assert due_by is not None
        tx.execute(
            "INSERT INTO {review_history} (position, item_id, stage, role, department, revision, "
            "waiting_since, due_by, decided_at, outcome, decided_by, wait_seconds, overdue) "
            "VALUES (:position, :id, :stage, :role, :department, :revision, :since, :due_by, :at, "
            ":outcome, :by, :seconds, :overdue)",
            {
                "position": r.position, "id": r.aggregate_id, "stage": waiting["stage"],
                "role": waiting["role"], "department": waiting["department"],
                "revision": waiting["revision"], "since": since, "due_by": due_by, "at": r.at,
                "outcome": outcome, "by": decided_by, "seconds": (r.at - since).total_seconds(),
                "overdue": r.at > due_by,
            },
        )  # fmt: skip
        tx.execute("DELETE FROM {review_queue} WHERE item_id = :id", {"id": r.aggregate_id})
