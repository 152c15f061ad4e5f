"""Times a caller reports for something that already happened (received, replied, observed)."""

from __future__ import annotations

from datetime import datetime, timedelta

from nm_workflow.application.clock import Clock
from nm_workflow.domain.content import as_utc
from nm_workflow.domain.timing import Now


def reported(moment: datetime | None, clock: Clock, skew: timedelta, what: str) -> datetime:
    """`moment` in UTC (now when None); TimeInTheFuture when it lies more than `skew` ahead of the clock."""
    now = clock()
    if moment is None:
        return now
    moment = as_utc(moment, what)
    Now(now, skew).check_happened(moment, what)
    return moment
