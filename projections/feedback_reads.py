"""Reads of the feedback_log projection (docs/projections.md), mixed into `ReadModel`."""

from __future__ import annotations

from typing import Any

from projections import feedback_log
from projections.readside import ReadSide


class FeedbackReads(ReadSide):
    def feedback_log(
        self, filters: dict[str, str | None], before: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Feedback, latest submitted first; `filters` on submitted_by, department, state, subject;
        `before` a `submitted_position` to page on from."""
        rows = self._latest_first("feedback_log", "submitted_position", filters, before, limit)
        return [feedback_log.LOG.decode(self.db.dialect, r) for r in rows]
