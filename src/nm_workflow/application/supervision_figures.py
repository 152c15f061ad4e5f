"""The parts of the interaction, channel follower and feedback figures (Ch. 4.3, 4.4, 6.3).

Pure functions of the facts a row counts (nm_workflow.application.supervision_facts),
each giving a figure's part (nm_workflow.application.figure_parts: Counts, or sorted
Values); the registry in nm_workflow.application.figures states each figure's unit and
formula and computes its value from the part. A time exactly at its deadline is in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from nm_workflow.application.figure_parts import Counts, Values
from nm_workflow.application.supervision_facts import AccountFacts, FeedbackFacts, InteractionFacts
from nm_workflow.domain.periods import Period


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def answered_in_time(interactions: Sequence[InteractionFacts]) -> Counts:
    """[first responses at or before their due time, interactions received]."""
    hits = sum(
        i["first_response_at"] is not None and _at(i["first_response_at"]) <= _at(i["response_due"])
        for i in interactions
    )
    return [hits, len(interactions)]


def first_response_hours(interactions: Sequence[InteractionFacts]) -> Values:
    """The hours from receipt to the first response, of the interactions with one, sorted."""
    return sorted(
        (_at(i["first_response_at"]) - _at(i["received_at"])).total_seconds() / 3600
        for i in interactions
        if i["first_response_at"] is not None
    )


def negative(interactions: Sequence[InteractionFacts]) -> Counts:
    """[negative interactions, interactions received]."""
    return [sum(i["negative"] for i in interactions), len(interactions)]


def escalations_opened(interactions: Sequence[InteractionFacts]) -> Counts:
    """[Escalated events, interactions received]."""
    return [sum(i["escalations"] for i in interactions), len(interactions)]


def negative_handled_in_time(interactions: Sequence[InteractionFacts]) -> Counts:
    """[negative interactions escalated or resolved at or before their deadline, negative ones]."""
    negatives = [i for i in interactions if i["negative_due"] is not None]
    hits = sum(
        i["negative_handled_at"] is not None and _at(i["negative_handled_at"]) <= _at(str(i["negative_due"]))
        for i in negatives
    )
    return [hits, len(negatives)]


def follower_growth(accounts: Sequence[AccountFacts], period: Period, zone: ZoneInfo) -> Counts:
    """[sum over accounts observed in the period of (last count in it - count at its start),
    accounts observed in it].

    The count at the start is the last one observed before the period, or, for an account
    first observed during it, the first one observed in it.
    """
    growth = observed = 0
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
            growth, observed = growth + max(during)[1] - start, observed + 1
    return [growth, observed]


def feedback_received(feedback: Sequence[FeedbackFacts], period: Period, zone: ZoneInfo) -> Counts:
    """[feedback submitted in the period, feedback counted in the row]."""
    submitted = sum(period.holds_day(_at(f["submitted_at"]).astimezone(zone).date()) for f in feedback)
    return [submitted, len(feedback)]


def feedback_closed(feedback: Sequence[FeedbackFacts], period: Period, zone: ZoneInfo) -> Counts:
    """[feedback closed in the period, feedback counted in the row]."""
    closed = sum(
        f["closed_at"] is not None and period.holds_day(_at(f["closed_at"]).astimezone(zone).date())
        for f in feedback
    )
    return [closed, len(feedback)]
