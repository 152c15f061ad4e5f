"""`publication_log`: one row per item and platform it was published on."""

from __future__ import annotations

from nm_workflow.domain.content_item import ContentItem
from projections.base import Projection, Recorded, handles
from projections.sql import Tx

SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS {publication_log} (
    item_id           TEXT NOT NULL,
    platform          TEXT NOT NULL,
    published_at      TEXT NOT NULL,
    external_id       TEXT NOT NULL,
    url               TEXT,
    revision          INTEGER NOT NULL,
    content_hash      TEXT NOT NULL,
    published_by      TEXT,
    recorded_at       TEXT NOT NULL,
    withdrawn_at      TEXT,
    withdrawal_reason TEXT,
    position          INTEGER NOT NULL,
    PRIMARY KEY (item_id, platform)
);
CREATE UNIQUE INDEX IF NOT EXISTS {publication_log}_position ON {publication_log} (position);
CREATE INDEX IF NOT EXISTS {publication_log}_platform ON {publication_log} (platform, published_at)
"""

POSTGRES_DDL = """
CREATE TABLE IF NOT EXISTS {publication_log} (
    item_id           uuid NOT NULL,
    platform          text NOT NULL,
    published_at      timestamptz NOT NULL,
    external_id       text NOT NULL,
    url               text,
    revision          integer NOT NULL,
    content_hash      text NOT NULL,
    published_by      text,
    recorded_at       timestamptz NOT NULL,
    withdrawn_at      timestamptz,
    withdrawal_reason text,
    position          bigint NOT NULL,
    PRIMARY KEY (item_id, platform)
);
CREATE UNIQUE INDEX IF NOT EXISTS {publication_log}_position ON {publication_log} (position);
CREATE INDEX IF NOT EXISTS {publication_log}_platform ON {publication_log} (platform, published_at)
"""

TIMES = ("published_at", "recorded_at", "withdrawn_at")


class PublicationLog(Projection):
    name = "publication_log"
    tables = ("publication_log",)
    sqlite_ddl = SQLITE_DDL
    postgres_ddl = POSTGRES_DDL

    @handles(ContentItem, "Published")
    def published(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        tx.execute(
            "INSERT INTO {publication_log} (item_id, platform, published_at, external_id, url, revision, "
            "content_hash, published_by, recorded_at, position) "
            "VALUES (:id, :platform, :published_at, :external_id, :url, :revision, :hash, :by, :at, "
            ":position)",
            {
                "id": r.aggregate_id, "platform": e.platform, "published_at": e.published_at,
                "external_id": e.external_id, "url": e.url, "revision": e.revision,
                "hash": e.content_hash, "by": r.actor, "at": r.at, "position": r.position,
            },
        )  # fmt: skip

    @handles(ContentItem, "Withdrawn")
    def withdrawn(self, tx: Tx, r: Recorded) -> None:
        tx.execute(
            "UPDATE {publication_log} SET withdrawn_at = :at, withdrawal_reason = :reason "
            "WHERE item_id = :id AND withdrawn_at IS NULL",
            {"id": r.aggregate_id, "at": r.at, "reason": r.event.reason},
        )
