"""Reads of the interaction projections (docs/projections.md), mixed into `ReadModel`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from projections import interaction_log, interaction_queue
from projections.readside import ReadSide

QUEUE_FILTERS = ("department", "kind", "sentiment", "next_step", "platform")


class InteractionReads(ReadSide):
    def interaction_queue(
        self,
        filters: dict[str, str | None] | None = None,
        overdue: bool | None = None,
        *,
        now: datetime | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Open interactions, the earliest deadline first (those without one last).

        `filters` by column (`QUEUE_FILTERS`); `overdue` (computed against `now`, the
        current time by default) keeps only the overdue (True) or the others (False).
        """
        moment = now or datetime.now(UTC)
        chosen = {k: v for k, v in (filters or {}).items() if v is not None and k in QUEUE_FILTERS}
        where = [f"{name} = :{name}" for name in chosen]
        if overdue is not None:
            where.append("due_at < :now" if overdue else "(due_at IS NULL OR due_at >= :now)")
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._all(
            "interaction_queue",
            f"SELECT * FROM {{interaction_queue}} {clause}"  # noqa: S608
            "ORDER BY due_at IS NULL, due_at, received_at, interaction_id LIMIT :limit",
            chosen | {"now": moment, "limit": limit},
        )
        decoded = [interaction_queue.QUEUE.decode(self.db.dialect, r) for r in rows]
        return [r | {"overdue": r["due_at"] is not None and r["due_at"] < moment} for r in decoded]

    def interaction_log(
        self, department: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Interactions, latest received first; `before` a `received_position` to page on from."""
        rows = self._latest_first(
            "interaction_log", "received_position", {"department": department}, before, limit
        )
        return [interaction_log.LOG.decode(self.db.dialect, r) for r in rows]
