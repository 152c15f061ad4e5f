"""Reads served from the projection tables: plain data out, cursor-paged where lists grow.

Each method reads one projection; `READS` names which, for read-your-writes:
`wait_for(position, READS["list_items"])` before the read.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from nm_workflow.application.errors import ApplicationError
from nm_workflow.domain.content import as_utc
from nm_workflow.domain.errors import RuleViolation
from nm_workflow.domain.roles import Role, Stage
from projections import audit_trail, item_metrics, item_status, publication_log, review_queue
from projections.channel_reads import ChannelReads
from projections.feedback_reads import FeedbackReads
from projections.interaction_reads import InteractionReads
from projections.sql import Row, decode_row

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_POSITION = 2**63 - 1  # positions are BIGINT; a larger one is no cursor of ours
MALFORMED_CURSOR = "The cursor is malformed; pass back next_cursor exactly as received."

READS: dict[str, list[str]] = {
    "review_queue": ["review_queue"],
    "list_items": ["item_status"],
    "publications": ["publication_log"],
    "item_metrics": ["item_metrics"],
    "audit_trail": ["audit_trail"],
    "interaction_queue": ["interaction_queue"],
    "interaction_log": ["interaction_log"],
    "channel_growth": ["channel_growth"],
    "feedback_log": ["feedback_log"],
    "quarterly_report": ["quarterly_evaluation"],
    "evaluation_queue": ["evaluation_status"],
}


class InvalidQuery(ApplicationError):
    slug = "invalid-query"
    title = "The query's parameters are not valid"


class InvalidCursor(InvalidQuery):
    slug = "invalid-cursor"
    title = "The cursor is not one this API sent for this list"


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    """Pass it back as `cursor` for the next page; None on the last page."""


def encode_cursor(kind: str, position: int) -> str:
    raw = json.dumps([kind, position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found, position = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidCursor(MALFORMED_CURSOR) from None
    if found != kind or not isinstance(position, int) or isinstance(position, bool):
        raise InvalidCursor(f"This cursor does not belong to the {kind} list.")
    if not 0 <= position <= MAX_POSITION:
        raise InvalidCursor(MALFORMED_CURSOR)
    return position


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}.")
    return limit


def _aware(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    try:
        return as_utc(moment, f"'{name}' time")
    except RuleViolation as error:
        raise InvalidQuery(error.detail) from None


class ReadModel(InteractionReads, ChannelReads, FeedbackReads):
    """The projections' tables, as the HTTP reads need them."""

    def review_queue(
        self,
        stage: Stage | str | None = None,
        department: str | None = None,
        roles: Iterable[Role | str] | None = None,
        *,
        own: Mapping[str, str] | None = None,
        now: datetime | None = None,
        limit: int = MAX_LIMIT,
    ) -> list[dict[str, Any]]:
        """Items waiting at `stage`, or else at the stages `roles` review (all stages when None).

        `department` keeps one department's waits; without it, `own` maps a stage to the only
        department shown at that stage (a reviewer who acts on their own department's items
        only). Sorted by due_by; `overdue` is computed against `now` (the current time by default).
        """
        stages = self._stages(stage, roles)
        if not stages:
            return []
        params: dict[str, Any] = {"limit": _limit(limit)}
        waits = []
        for i, name in enumerate(stages):
            params[f"stage{i}"] = name
            shown = department if department is not None else (own or {}).get(name)
            if shown is None:
                waits.append(f"stage = :stage{i}")
            else:
                waits.append(f"(stage = :stage{i} AND department = :department{i})")
                params[f"department{i}"] = shown
        rows = self._all(
            "review_queue",
            f"SELECT * FROM {{review_queue}} WHERE {' OR '.join(waits)} "  # noqa: S608
            "ORDER BY due_by, waiting_since, item_id LIMIT :limit",
            params,
        )
        moment = _aware(now, "now") or datetime.now(UTC)
        decoded = [self._decode(r, times=review_queue.QUEUE_TIMES, uuids=("item_id",)) for r in rows]
        return [r | {"overdue": r["due_by"] < moment} for r in decoded]

    @staticmethod
    def _stages(stage: Stage | str | None, roles: Iterable[Role | str] | None) -> list[str]:
        try:
            if stage is not None:
                return [Stage(stage).value]
            held = None if roles is None else {Role(r) for r in roles}
        except ValueError as error:
            raise InvalidQuery(str(error)) from None
        return [s.value for s in Stage if held is None or s.reviewer_role in held]

    def list_items(
        self,
        state: str | None = None,
        department: str | None = None,
        platform: str | None = None,
        campaign: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page:
        """Items, newest plan first."""
        filters = {"state": state, "department": department, "campaign": campaign}
        where = [f"{name} = :{name}" for name, value in filters.items() if value is not None]
        params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
        if platform is not None:
            where.append(
                "platforms ? :platform"
                if self.db.is_postgres
                else "EXISTS (SELECT 1 FROM json_each(platforms) WHERE json_each.value = :platform)"
            )
            params["platform"] = platform
        rows = self._page("item_status", "planned_position", where, params, cursor, limit, descending=True)
        return self._paged(
            "item_status", "planned_position", limit,
            [self._decode(r, times=item_status.TIMES, dates=("planned_publish_date",),
                          jsons=("platforms",), uuids=("item_id",)) for r in rows],
        )  # fmt: skip

    def publications(
        self,
        item_id: UUID | None = None,
        platform: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page:
        """Publications, newest first."""
        filters = {"item_id": item_id, "platform": platform}
        where = [f"{name} = :{name}" for name, value in filters.items() if value is not None]
        params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
        rows = self._page("publication_log", "position", where, params, cursor, limit, descending=True)
        return self._paged(
            "publication_log", "position", limit,
            [self._decode(r, times=publication_log.TIMES, uuids=("item_id",)) for r in rows],
        )  # fmt: skip

    def item_metrics(self, item_id: UUID) -> dict[str, Any]:
        """The latest observation per platform, and every observation."""
        params = {"item_id": item_id}
        latest = self._all(
            "item_metrics", "SELECT * FROM {item_metrics} WHERE item_id = :item_id ORDER BY platform", params
        )
        history = self._all(
            "item_metrics",
            "SELECT * FROM {item_metrics_history} WHERE item_id = :item_id "
            "ORDER BY platform, observed_at, position",
            params,
        )
        decode = {"times": item_metrics.TIMES, "uuids": ("item_id",)}
        return {
            "item_id": item_id,
            "latest": [self._decode(r, **decode) for r in latest],
            "history": [self._decode(r, **decode, jsons=item_metrics.JSONS) for r in history],
        }

    def audit_trail(
        self,
        aggregate_id: UUID | None = None,
        actor: str | None = None,
        from_: datetime | None = None,
        to: datetime | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page:
        """Events in log order; `from_` inclusive, `to` exclusive (times of the events)."""
        where: list[str] = []
        params: dict[str, Any] = {}
        for column, operator, value in (
            ("aggregate_id", "=", aggregate_id), ("actor_id", "=", actor),
            ("occurred_at", ">=", _aware(from_, "from")), ("occurred_at", "<", _aware(to, "to")),
        ):  # fmt: skip
            if value is not None:
                key = f"p{len(params)}"
                where.append(f"{column} {operator} :{key}")
                params[key] = value
        rows = self._page("audit_trail", "position", where, params, cursor, limit, descending=False)
        return self._paged(
            "audit_trail", "position", limit,
            [self._decode(r, times=audit_trail.TIMES, jsons=("payload",), uuids=("aggregate_id",))
             for r in rows],
        )  # fmt: skip

    # --- helpers -------------------------------------------------------------------

    def _page(
        self, table: str, key: str, where: list[str], params: dict[str, Any], cursor: str | None,
        limit: int, *, descending: bool,
    ) -> list[Row]:  # fmt: skip
        after = decode_cursor(table, cursor)
        if after is not None:
            where = [*where, f"{key} {'<' if descending else '>'} :after"]
            params = params | {"after": after}
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        order = "DESC" if descending else "ASC"
        statement = f"SELECT * FROM {{{table}}} {clause}ORDER BY {key} {order} LIMIT :limit"  # noqa: S608
        return self._all(table, statement, params | {"limit": _limit(limit) + 1})

    @staticmethod
    def _paged(table: str, key: str, limit: int, rows: list[Row]) -> Page:
        if len(rows) <= limit:
            return Page(rows, None)
        return Page(rows[:limit], encode_cursor(table, int(rows[limit - 1][key])))

    def _decode(self, row: Row, **kinds: Any) -> Row:
        return decode_row(self.db.dialect, row, **kinds)
