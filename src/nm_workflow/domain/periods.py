"""Evaluated periods: calendar days in the company's time zone, and quarters (Ch. 6.2).

A period runs from the start of its first day to the end of its last day, in
the company's time zone: 2026Q3 is 2026-07-01T00:00+08:00 up to (not including)
2026-10-01T00:00+08:00 when the company is in Asia/Shanghai. A moment is in
the period when the day it falls on in that zone is.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from nm_workflow.domain.oversight_errors import InvalidPeriod
from nm_workflow.domain.text import trimmed

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True, order=True)
class Period:
    """Days `first` to `last`, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidPeriod(f"The period ends ({self.last}) before it starts ({self.first}).")

    def holds_day(self, day: date) -> bool:
        return self.first <= day <= self.last

    @property
    def quarter(self) -> str | None:
        """'2026Q3' when the period is exactly one calendar quarter, else None."""
        label = quarter_of(self.first)
        return label if quarter(label) == self else None


def quarter(label: str) -> Period:
    """'2026Q3' -> 2026-07-01 .. 2026-09-30; InvalidPeriod for anything else."""
    match = _QUARTER.match(trimmed(label).upper())
    if match is None or int(match[1]) == 0:
        raise InvalidPeriod(f"{label!r} is not a quarter; write it like '2026Q3'.")
    year, number = int(match[1]), int(match[2])
    last_month = 3 * number
    return Period(date(year, last_month - 2, 1), date(year, last_month, monthrange(year, last_month)[1]))


def quarter_of(day: date) -> str:
    return f"{day.year:04d}Q{(day.month - 1) // 3 + 1}"


def previous_quarter(moment: datetime, zone: ZoneInfo) -> str:
    """The last complete quarter before `moment` (timezone-aware), in `zone`."""
    current = quarter(quarter_of(moment.astimezone(zone).date()))
    return quarter_of(current.first - timedelta(days=1))
