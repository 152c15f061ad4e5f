"""What the evaluation figures need to know of interactions, channel accounts and feedback.

The counterpart of nm_workflow.application.facts for the Interaction,
ChannelAccount and Feedback aggregates: plain JSON records folded from their
events, kept by the `quarterly_evaluation` projection and rebuilt from the log
by `reports reproduce`. Each record names its aggregate in `aggregate`
(content items' facts have no such key). Times are ISO 8601 text in UTC.

Personal data never enters these records: no interaction text or author
handle, no feedback text; only times, kinds, sentiment, departments and states. As there,
folding replaces a record's values and never changes one in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypedDict

from eventsourcing.utils import get_topic

from nm_workflow.application.ids import id_text
from nm_workflow.domain.channel_account import ChannelAccount
from nm_workflow.domain.feedback import Feedback
from nm_workflow.domain.interaction import Interaction


class InteractionFacts(TypedDict):
    aggregate: Literal["interaction"]
    platform: str
    department: str
    """The department the interaction is with: the one it was escalated to last, else the
    department that received it (the interaction_department setting)."""
    received_at: str
    response_due: str
    """When the first response was due (fixed at receipt)."""
    negative_due: str | None
    """When a negative interaction had to be escalated or resolved; None when not negative."""
    negative: bool
    first_response_at: str | None
    negative_handled_at: str | None
    """The first escalation or resolution, whichever came first (any sentiment)."""
    escalations: int


class AccountFacts(TypedDict):
    aggregate: Literal["channel_account"]
    platform: str
    department: str
    followers: dict[str, int]
    """observed_at (ISO, UTC) -> follower count; a correction replaces the count it corrects."""


class FeedbackFacts(TypedDict):
    aggregate: Literal["feedback"]
    department: str
    """The department it was triaged to last, else the one it was submitted to."""
    submitted_at: str
    closed_at: str | None


SupervisionFacts = InteractionFacts | AccountFacts | FeedbackFacts


def _received(e: Any) -> InteractionFacts:
    return InteractionFacts(
        aggregate="interaction",
        platform=e.platform,
        department=e.department,
        received_at=e.received_at.isoformat(),
        response_due=e.response_due.isoformat(),
        negative_due=None if e.handling_due is None else e.handling_due.isoformat(),
        negative=e.sentiment == "negative",
        first_response_at=None,
        negative_handled_at=None,
        escalations=0,
    )


def _responded(facts: Any, e: Any) -> None:
    if facts["first_response_at"] is None:
        facts["first_response_at"] = e.replied_at.isoformat()


def _escalated(facts: Any, e: Any) -> None:
    facts["department"] = e.department
    facts["escalations"] += 1
    if facts["negative_handled_at"] is None:
        facts["negative_handled_at"] = e.escalated_at.isoformat()


def _resolved(facts: Any, e: Any) -> None:
    if facts["negative_handled_at"] is None:
        facts["negative_handled_at"] = e.resolved_at.isoformat()


def _registered(e: Any) -> AccountFacts:
    return AccountFacts(
        aggregate="channel_account", platform=e.platform, department=e.department, followers={}
    )


def _followers_recorded(facts: Any, e: Any) -> None:
    facts["followers"] = {**facts["followers"], e.observed_at.isoformat(): int(e.followers)}


def _submitted(e: Any) -> FeedbackFacts:
    return FeedbackFacts(
        aggregate="feedback", department=e.department, submitted_at=e.timestamp.isoformat(), closed_at=None
    )


def _triaged(facts: Any, e: Any) -> None:
    facts["department"] = e.department


def _closed(facts: Any, e: Any) -> None:
    facts["closed_at"] = e.timestamp.isoformat()


def _topic(aggregate: type, name: str) -> str:
    return get_topic(getattr(aggregate, name))


_STARTS: dict[str, Callable[[Any], SupervisionFacts]] = {
    _topic(Interaction, "Received"): _received,
    _topic(ChannelAccount, "Registered"): _registered,
    _topic(Feedback, "Submitted"): _submitted,
}
_FOLDS: dict[str, Callable[[Any, Any], None]] = {
    _topic(Interaction, "Responded"): _responded,
    _topic(Interaction, "Escalated"): _escalated,
    _topic(Interaction, "Resolved"): _resolved,
    _topic(ChannelAccount, "FollowersRecorded"): _followers_recorded,
    _topic(Feedback, "Triaged"): _triaged,
    _topic(Feedback, "Closed"): _closed,
}
TOPICS: tuple[str, ...] = tuple(sorted([*_STARTS, *_FOLDS]))
"""The Interaction, ChannelAccount and Feedback events the figures are computed from."""


def fold(facts: dict[str, Any], event: Any) -> str | None:
    """Apply one event to the facts of its aggregate; the aggregate's id, or None if not relevant."""
    kind = get_topic(type(event))
    aggregate_id = id_text(event.originator_id)
    if kind in _STARTS:
        facts[aggregate_id] = _STARTS[kind](event)
    elif kind in _FOLDS:
        if aggregate_id in facts:
            _FOLDS[kind](facts[aggregate_id], event)
    else:
        return None
    return aggregate_id
