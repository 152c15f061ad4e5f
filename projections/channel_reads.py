"""Reads of the channel_growth projection (docs/projections.md), mixed into `ReadModel`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal
from uuid import UUID

from projections import channel_growth
from projections.readside import ReadSide

Period = Literal["day", "week", "month"]


def period_start(day: date, period: Period) -> date:
    """The first day of the period `day` falls in (weeks start on Monday)."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


class ChannelReads(ReadSide):
    def channel_growth(self, account_id: UUID, period: Period = "day") -> list[dict[str, Any]]:
        """Per period, oldest first: followers at its last observed day, and its net growth.

        A period's net growth is the sum of its days' (NULL days, the account's first, count 0).
        """
        rows = self._all(
            "channel_growth",
            "SELECT * FROM {channel_growth} WHERE account_id = :account_id ORDER BY day",
            {"account_id": account_id},
        )
        periods: dict[date, dict[str, Any]] = {}
        for row in (channel_growth.GROWTH.decode(self.db.dialect, r) for r in rows):
            start = period_start(row["day"], period)
            entry = periods.setdefault(start, {"period_start": start, "net_growth": 0, "corrected": False})
            entry["followers"], entry["last_day"] = row["followers"], row["day"]
            entry["net_growth"] += row["net_growth"] or 0
            entry["corrected"] = entry["corrected"] or row["corrected"]
        return list(periods.values())
