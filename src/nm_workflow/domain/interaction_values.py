"""Values of a customer interaction (Ch. 4.3): kinds, sentiment, states, deadlines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid5

from nm_workflow.domain.content import as_utc
from nm_workflow.domain.interaction_errors import InvalidInteractionTime
from nm_workflow.domain.timing import utc_text

# Fixed forever: interaction ids are derived from it, so changing it would duplicate every interaction.
INTERACTION_NAMESPACE = UUID("6f1c2b8e-4d0a-5e57-9a51-2f0c7d3b8a10")


class InteractionKind(StrEnum):
    COMMENT = "comment"
    DIRECT_MESSAGE = "direct_message"
    MENTION = "mention"
    COMPLAINT = "complaint"


class Sentiment(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class InteractionState(StrEnum):
    RECEIVED = "received"
    """Waiting for a first response."""
    RESPONDED = "responded"
    ESCALATED = "escalated"
    """Waiting for the department it was escalated to."""
    HANDLED = "handled"
    """The department recorded its note; customer service closes it."""
    RESOLVED = "resolved"
    REOPENED = "reopened"
    """Resolved once, opened again: waiting for a response."""


@dataclass(frozen=True)
class InteractionDeadlines:
    """How long customer service has (Ch. 4.3 "及时"): fixed on each interaction when it arrives."""

    first_response: timedelta
    """From receipt (or reopening) to the first response."""
    negative_handling: timedelta
    """From receipt of a negative interaction to its escalation or resolution."""


def interaction_id(platform: str, platform_id: str) -> UUID:
    """The one id of a platform's comment, the same in every process: duplicates are impossible."""
    # JSON keeps the two parts apart whatever characters they contain.
    return uuid5(INTERACTION_NAMESPACE, json.dumps([platform, platform_id], ensure_ascii=False))


def not_before(moment: datetime, earliest: datetime, what: str) -> datetime:
    """`moment` in UTC, refused when it lies before `earliest` (e.g. a reply before the comment)."""
    moment = as_utc(moment, what)
    if moment < earliest:
        raise InvalidInteractionTime(
            f"The {what} {utc_text(moment)} is before the interaction was received ({utc_text(earliest)})."
        )
    return moment
