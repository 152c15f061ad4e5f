"""The ChannelAccount aggregate: an official account on a platform, and its followers (Ch. 4.4).

registered -> (followers recorded ...) -> retired. Follower counts are
cumulative observations, under the rules of item metrics: the same count for
the same time again changes nothing; another count for a time already
recorded is refused unless sent as a correction, which is recorded and flagged.
"""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import event

from nm_workflow.domain.content import as_utc
from nm_workflow.domain.errors import ConflictingObservation, RuleViolation
from nm_workflow.domain.interaction_errors import ChannelAccountRetired
from nm_workflow.domain.metadata import WorkflowAggregate
from nm_workflow.domain.timing import utc_text

# Fixed forever: account ids are derived from it.
CHANNEL_NAMESPACE = UUID("0d6b1f7e-2a1c-5c3e-9f47-8b2e6a4c1d93")


def channel_account_id(platform: str, account_id: str) -> UUID:
    """One id per platform account, the same in every process."""
    return uuid5(CHANNEL_NAMESPACE, json.dumps([platform, account_id], ensure_ascii=False))


class ChannelAccount(WorkflowAggregate):
    @staticmethod
    def create_id(platform: str, account_id: str) -> UUID:
        return channel_account_id(platform, account_id)

    @event("Registered")
    def __init__(self, *, platform: str, account_id: str, account_name: str, department: str) -> None:
        self.platform, self.account_id, self.account_name = platform, account_id, account_name
        self.department = department
        self.retired_at: datetime | None = None
        self.retirement_reason: str | None = None
        self.followers: dict[str, int] = {}
        """Observation time (ISO, UTC) -> follower count."""

    @classmethod
    def register(
        cls, *, platform: str, account_id: str, account_name: str, department: str
    ) -> ChannelAccount:
        return cls(platform=platform, account_id=account_id, account_name=account_name, department=department)

    def record_followers(self, *, observed_at: datetime, followers: int, correction: bool) -> bool:
        """Record a follower count; False when exactly that was already recorded."""
        observed_at = as_utc(observed_at, "observation time")
        if followers < 0:
            raise RuleViolation("A follower count cannot be negative.")
        if self.retired_at is not None and observed_at > self.retired_at:
            raise ChannelAccountRetired(
                f"The account was retired at {utc_text(self.retired_at)}; nothing can be observed after."
            )
        earlier = self.followers.get(observed_at.isoformat())
        if earlier == followers:
            return False
        if earlier is not None and not correction:
            raise ConflictingObservation(
                f"{earlier} followers were recorded for {utc_text(observed_at)}; "
                "send the new count with 'correction': true to replace it."
            )
        self._followers_recorded(
            observed_at=observed_at, followers=followers, corrects=earlier if correction else None
        )
        return True

    def retire(self, *, reason: str, retired_at: datetime) -> None:
        if self.retired_at is not None:
            raise ChannelAccountRetired(f"The account was retired at {utc_text(self.retired_at)}.")
        self._retired(reason=reason, retired_at=as_utc(retired_at, "retirement time"))

    @event("FollowersRecorded")
    def _followers_recorded(self, observed_at: datetime, followers: int, corrects: int | None) -> None:
        """`corrects`: the count this one replaces, when it is a correction (None otherwise)."""
        self.followers[observed_at.isoformat()] = followers

    @event("Retired")
    def _retired(self, reason: str, retired_at: datetime) -> None:
        self.retired_at, self.retirement_reason = retired_at, reason
