"""The service's notion of "now", in one place so that tests can control it.

Deadlines, "not in the future" checks and due times read the clock through
`Clock`; production uses `system_clock`, tests pass a fake (e.g. a
`ManualClock` of their own) to the application services that take one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""A function returning the current time, timezone-aware, in UTC."""


def system_clock() -> datetime:
    return datetime.now(UTC)
