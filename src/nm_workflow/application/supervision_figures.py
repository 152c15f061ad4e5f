"""The figures of interactions, channel followers and feedback (Ch. 4.3, 4.4, 6.3).

Pure functions of the facts a row counts (nm_workflow.application.supervision_facts),
called by the registry in nm_workflow.application.figures, where each figure's
unit and formula are stated. A time exactly at its deadline is in time.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from nm_workflow.application.supervision_facts import AccountFacts, FeedbackFacts, InteractionFacts
from nm_workflow.domain.periods import Period


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def received(interactions: Sequence[InteractionFacts]) -> int | None:
    return len(interactions) if interactions else None


def answered_in_time(interactions: Sequence[InteractionFacts]) -> float | None:
    """Interactions whose first response came at or before its due time / interactions received."""
    hits = sum(
        i["first_response_at"] is not None and _at(i["first_response_at"]) <= _at(i["response_due"])
        for i in interactions
    )
    return _share(hits, len(interactions))


def first_response_median_hours(interactions: Sequence[InteractionFacts]) -> float | None:
    waits = [
        (_at(i["first_response_at"]) - _at(i["received_at"])).total_seconds() / 3600
        for i in interactions
        if i["first_response_at"] is not None
    ]
    return statistics.median(waits) if waits else None


def negative_share(interactions: Sequence[InteractionFacts]) -> float | None:
    return _share(sum(i["negative"] for i in interactions), len(interactions))


def escalations_opened(interactions: Sequence[InteractionFacts]) -> int | None:
    return sum(i["escalations"] for i in interactions) if interactions else None


def negative_handled_in_time(interactions: Sequence[InteractionFacts]) -> float | None:
    """Negative interactions escalated or resolved at or before their deadline / negative ones."""
    negative = [i for i in interactions if i["negative_due"] is not None]
    hits = sum(
        i["negative_handled_at"] is not None and _at(i["negative_handled_at"]) <= _at(str(i["negative_due"]))
        for i in negative
    )
    return _share(hits, len(negative))


def follower_growth(accounts: Sequence[AccountFacts], period: Period, zone: ZoneInfo) -> int | None:
    """Sum over accounts observed in the period of (last count in it - count at its start).

    The count at the start is the last one observed before the period, or, for an account
    first observed during it, the first one observed in it.
    """
    growth = None
    for account in accounts:
        before, during = [], []
        for observed_at, count in account["followers"].items():
            day = _at(observed_at).astimezone(zone).date()
            if day < period.first:
                before.append((_at(observed_at), count))
            elif period.holds_day(day):
                during.append((_at(observed_at), count))
        if during:
            start = max(before)[1] if before else min(during)[1]
            growth = (growth or 0) + max(during)[1] - start
    return growth


def feedback_received(feedback: Sequence[FeedbackFacts], period: Period, zone: ZoneInfo) -> int | None:
    if not feedback:
        return None
    return sum(period.holds_day(_at(f["submitted_at"]).astimezone(zone).date()) for f in feedback)


def feedback_closed(feedback: Sequence[FeedbackFacts], period: Period, zone: ZoneInfo) -> int | None:
    if not feedback:
        return None
    return sum(
        f["closed_at"] is not None and period.holds_day(_at(f["closed_at"]).astimezone(zone).date())
        for f in feedback
    )
