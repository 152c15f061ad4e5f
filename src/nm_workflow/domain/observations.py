"""A platform's observations of a publication's metrics: their checks and the corrections they carry.

A platform reports cumulative counters at an observed time. One time holds one
observation: the same counters again are a repeat (recorded once), other
counters conflict. A counter lower than its total in the latest earlier
observation is accepted as the platform's correction and recorded as such,
so that figures can show it rather than silently go down.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from nm_workflow.domain.content import Publication, as_utc, check_counters
from nm_workflow.domain.errors import ConflictingObservation, ObservedBeforePublication
from nm_workflow.domain.timing import Now, utc_text

Observations = Mapping[str, Mapping[str, int]]
"""One platform's observations: observed time (ISO 8601, UTC) -> counter -> cumulative total."""


def check_observation(
    publication: Publication, observed_at: datetime, counters: dict[str, int], now: Now
) -> datetime:
    """The observation time in UTC, not before the publication nor in the future; the counters known.

    Raises RuleViolation (no time zone, unknown or negative counters),
    ObservedBeforePublication or TimeInTheFuture.
    """
    observed_at = as_utc(observed_at, "observation time")
    published_at = publication["published_at"]
    if observed_at < published_at:
        raise ObservedBeforePublication(
            f"The observation time {utc_text(observed_at)} is before the publication on "
            f"{publication['platform']} at {utc_text(published_at)}."
        )
    now.check_happened(observed_at, "observation time")
    check_counters(counters)
    return observed_at


def is_repeat(
    observations: Observations, platform: str, observed_at: datetime, counters: dict[str, int]
) -> bool:
    """True when these counters are recorded at `observed_at` already; ConflictingObservation if others."""
    earlier = observations.get(observed_at.isoformat())
    if earlier is not None and earlier != counters:
        raise ConflictingObservation(
            f"Other counters were recorded for {platform} at {utc_text(observed_at)}."
        )
    return earlier is not None


def find_corrections(
    observations: Observations, observed_at: datetime, counters: dict[str, int]
) -> dict[str, int]:
    """Counters lower than their total in the latest earlier observation: counter -> that total."""
    earlier: dict[str, int] = {}
    # ISO 8601 texts in UTC sort as the times they name: later observations override earlier totals.
    for moment, reported in sorted(observations.items()):
        if datetime.fromisoformat(moment) < observed_at:
            earlier |= reported
    return {name: earlier[name] for name, value in sorted(counters.items()) if value < earlier.get(name, 0)}
