"""The ChannelAccount aggregate (Ch. 4.4): counts, corrections, retirement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nm_workflow.domain.channel_account import ChannelAccount, channel_account_id
from nm_workflow.domain.errors import ConflictingObservation, RuleViolation
from nm_workflow.domain.interaction_errors import ChannelAccountRetired

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def account() -> ChannelAccount:
    return ChannelAccount.register(
        platform="weibo", account_id="73", account_name="ACME", department="marketing"
    )


def test_the_id_derives_from_platform_and_account_id() -> None:
    assert account().id == channel_account_id("weibo", "73") != channel_account_id("douyin", "73")


def test_a_count_is_recorded_once_and_a_different_one_only_as_a_correction() -> None:
    acme = account()
    assert acme.record_followers(observed_at=T0, followers=10, correction=False) is True
    assert acme.record_followers(observed_at=T0, followers=10, correction=True) is False
    with pytest.raises(ConflictingObservation):
        acme.record_followers(observed_at=T0, followers=11, correction=False)
    assert acme.record_followers(observed_at=T0, followers=11, correction=True) is True
    recorded = acme.collect_events()[-1]
    assert (recorded.followers, recorded.corrects) == (11, 10)  # type: ignore[attr-defined]


def test_refusals_negative_counts_times_without_zone_and_after_retirement() -> None:
    acme = account()
    with pytest.raises(RuleViolation):
        acme.record_followers(observed_at=T0, followers=-1, correction=False)
    with pytest.raises(RuleViolation):
        acme.record_followers(observed_at=datetime(2026, 3, 2), followers=1, correction=False)
    acme.retire(reason="merged", retired_at=T0)
    with pytest.raises(ChannelAccountRetired):
        acme.record_followers(observed_at=T0 + timedelta(seconds=1), followers=1, correction=False)
    assert acme.record_followers(observed_at=T0, followers=1, correction=False) is True
    with pytest.raises(ChannelAccountRetired):
        acme.retire(reason="again", retired_at=T0)
