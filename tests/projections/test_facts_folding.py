"""Folding an event replaces the facts' values and changes none in place (ADR 0073).

`quarterly_evaluation` keeps each member's facts before a batch's events as a shallow copy
(its parts before and after are moved): that copy is the facts before only if folding never
changes a list or dict the facts hold. Every kind of event the figures fold, from a quarter of
items and one of interactions, channel accounts and feedback."""

from __future__ import annotations

import copy
from typing import Any

from nm_workflow.application.facts import TOPICS, fold
from nm_workflow.application.items import ContentItems
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from tests.projections.quarter_scenario import ManualClock, QuarterDriver
from tests.projections.test_supervision_figures import driver_for, quarter_of_activity


def test_folding_changes_no_value_of_the_facts_it_is_given(
    store: EventStore, settings: Settings, clock: ManualClock
) -> None:
    QuarterDriver(ContentItems(store, clock), clock, seed=3).run_quarter(16)
    supervision = driver_for(store, settings, clock)
    quarter_of_activity(supervision)
    supervision.run()
    facts: dict[str, Any] = {}
    folded: set[str] = set()
    for notification in store.notifications(topics=TOPICS):
        event = store.mapper.to_domain_event(notification)
        before = copy.deepcopy(facts)
        given = {member: dict(found) for member, found in facts.items()}  # shallow: values shared
        if fold(given, event) is not None:
            folded.add(type(event).__name__)
        assert facts == before, type(event).__name__  # no value it shares with `given` was changed
        facts = given
    assert folded >= {
        "Planned", "Drafted", "ReviewRequested", "EditoriallyApproved", "ChangesRequested", "Published",
        "MetricsRecorded", "Withdrawn", "Cancelled", "Received", "Escalated", "FollowersRecorded",
        "Submitted", "Triaged", "Closed",
    }  # fmt: skip
