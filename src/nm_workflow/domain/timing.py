"""Times the policy can believe: what happened is not in the future, what is planned is not far off.

The domain reads no clock: the application passes the present in as a `Now`
(its clock's time and the two tolerances of the settings), and the aggregate
checks each time it is given against it. See docs/adr/0013-time-values.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from nm_workflow.domain.errors import OutsidePlanningHorizon, TimeInTheFuture

DEFAULT_CLOCK_SKEW = timedelta(seconds=300)
DEFAULT_PLANNING_HORIZON = timedelta(days=3650)
# A calendar date is a day somewhere on Earth: UTC's today is yesterday in Kiribati's (UTC+14).
_DATE_LINE = timedelta(days=1)


@dataclass(frozen=True)
class Now:
    """The present, as the application's clock tells it, with the tolerances of the checks.

    `at`: aware UTC time of the command. `clock_skew`: how far a reported time may lie
    ahead of `at` (the reporting system's clock and ours differ), and how far a planned
    time may lie behind it. `planning_horizon`: how far ahead a schedule or a planned
    publication date may lie.
    """

    at: datetime
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    planning_horizon: timedelta = DEFAULT_PLANNING_HORIZON

    def check_happened(self, moment: datetime, what: str) -> None:
        """A time reporting that something happened: not later than now plus the clock skew.

        Raises TimeInTheFuture. Reusable for every report of a past fact (publications,
        observations, receptions).
        """
        latest = self.at + self.clock_skew
        if moment > latest:
            raise TimeInTheFuture(
                f"The {what} {utc_text(moment)} is in the future: it may be at most "
                f"{_seconds(self.clock_skew)} s after the present ({utc_text(self.at)})."
            )

    def check_planned(self, moment: datetime, what: str) -> None:
        """A time something is planned for: from now (less the clock skew) to the horizon.

        Raises OutsidePlanningHorizon.
        """
        earliest, latest = self.at - self.clock_skew, self.at + self.planning_horizon
        if not earliest <= moment <= latest:
            raise OutsidePlanningHorizon(
                f"The {what} {utc_text(moment)} must lie between {utc_text(earliest)} (now, less the clock "
                f"skew) and {utc_text(latest)} ({self.planning_horizon.days} days ahead)."
            )

    def check_planned_date(self, day: date, what: str) -> None:
        """A calendar date something is planned for: from today (anywhere) to the horizon.

        Raises OutsidePlanningHorizon.
        """
        earliest = (self.at - _DATE_LINE).date()
        latest = (self.at + self.planning_horizon + _DATE_LINE).date()
        if not earliest <= day <= latest:
            raise OutsidePlanningHorizon(
                f"The {what} {day.isoformat()} must lie between {earliest.isoformat()} and "
                f"{latest.isoformat()} (today to {self.planning_horizon.days} days ahead)."
            )


def utc_text(moment: datetime, timespec: str = "auto") -> str:
    """A time as RFC 3339 text in UTC ending in `Z`, as every answer, export and command-line
    output writes times, e.g. `2026-03-02T10:00:00.5Z`; a naive time is taken as UTC, never as
    the machine's local time. `timespec` as `datetime.isoformat`'s ("microseconds": always six
    digits)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())
