"""Time travel on every aggregate type: the state at version N and as of time T, as the service
reads it (snapshots, binary search over event times), equals a replay of the stored events folded
here, for random N and T; every type's state round-trips through a snapshot (ADR 0029)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from nm_workflow.application.as_of import load_as_of
from nm_workflow.application.channels import ChannelAccounts, channel_view
from nm_workflow.application.commands import CommandContext
from nm_workflow.application.demo import DemoQuarter
from nm_workflow.application.errors import NoSuchVersion
from nm_workflow.application.evaluations import Evaluations, evaluation_view
from nm_workflow.application.feedback import FeedbackService, feedback_view
from nm_workflow.application.interaction_views import interaction_view
from nm_workflow.application.interactions import Interactions
from nm_workflow.application.items import ContentItems
from nm_workflow.application.policies import Policies
from nm_workflow.application.reads import AggregateReads
from nm_workflow.application.replay import timeline
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.snapshots import AggregateSnapshot
from nm_workflow.application.store import EventStore
from nm_workflow.application.views import item_view
from nm_workflow.domain.roles import Role

AUDITOR = Actor("audrey", frozenset({Role.AUDITOR}), "audit")
MANAGER = CommandContext(Actor("olga", frozenset({Role.MANAGEMENT}), "management"))
KINDS = {"ContentItem", "Interaction", "ChannelAccount", "Feedback", "Evaluation", "WorkflowPolicy"}
HOUR = timedelta(hours=1)
INTERVAL = 2  # small: loads mix a snapshot with the events after it


@pytest.fixture
def quarter(make_settings: Callable[..., Settings]) -> Iterator[EventStore]:
    """A demo quarter (every aggregate type, times spread over months), snapshots every 2 events;
    the policy revised and withdrawn, so that it too has a history."""
    settings = make_settings(snapshot_interval=INTERVAL)
    store = EventStore(settings)
    DemoQuarter(store, settings, "2026Q1", seed=5, now=datetime(2026, 6, 1, tzinfo=UTC)).run(1)
    policies = Policies(store)
    rules = policies.current(AUDITOR)["rules"]
    revised = policies.propose(MANAGER, rules, "the same rules, revised").view["version"]
    policies.withdraw(MANAGER, revised, "not needed")
    yield store
    store.close()


def stored_histories(store: EventStore) -> dict[UUID, list[Any]]:
    """Every aggregate's events, read from the recorder and decoded here, by aggregate id."""
    ids = {UUID(str(n.originator_id)) for n in store.notifications()}
    decode = store.mapper.to_domain_event
    return {i: [decode(s) for s in store.recorder.select_events(i)] for i in ids}


def fold(events: list[Any]) -> Any:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def state(aggregate: Any) -> dict[str, tuple[type, Any]]:
    """Every attribute with its type: an enum that came back as text is a difference."""
    return {name: (type(value), value) for name, value in vars(aggregate).items()}


def kind(events: list[Any]) -> str:
    return str(type(events[0]).__qualname__.split(".")[0])


def services(
    store: EventStore, settings: Settings
) -> dict[str, tuple[AggregateReads[Any], Callable[..., Any]]]:
    """The service reading each kind over HTTP, and the view it answers with."""
    interactions = Interactions(store, settings)
    return {
        "ContentItem": (ContentItems(store), item_view),
        "Interaction": (interactions, lambda i: interaction_view(i, interactions._vault)),
        "ChannelAccount": (ChannelAccounts(store, settings), channel_view),
        "Feedback": (FeedbackService(store), feedback_view),
        "Evaluation": (Evaluations(store, settings), evaluation_view),
    }


def test_state_at_random_versions_and_times_equals_a_replay_of_the_stored_events(quarter: EventStore) -> None:
    store, rng = quarter, random.Random(11)
    histories = stored_histories(store)
    readers = services(store, store.settings)
    assert {kind(events) for events in histories.values()} >= KINDS
    for aggregate_id, events in histories.items():
        if kind(events) not in KINDS:
            continue  # API keys and idempotency records: not the business's aggregates
        for version in rng.sample(range(1, len(events) + 1), min(3, len(events))):
            expected = fold(events[:version])
            assert state(store.load(aggregate_id, version)) == state(expected), (kind(events), version)
            if kind(events) in readers:
                service, view = readers[kind(events)]
                assert service.get(AUDITOR, aggregate_id, version=version) == view(expected)
        first, last = events[0].timestamp, events[-1].timestamp
        exact = rng.choice(events).timestamp  # the time of an event: shown, with every event of that time
        for moment in [
            exact,
            *(first + (last - first + timedelta(hours=2)) * rng.random() - HOUR for _ in "ab"),
        ]:
            shown = [e for e in events if e.timestamp <= moment]
            if not shown:
                with pytest.raises(NoSuchVersion):
                    load_as_of(store, aggregate_id, moment)
                with pytest.raises(NoSuchVersion):
                    timeline(store, aggregate_id, moment)
                continue
            assert load_as_of(store, aggregate_id, moment).version == len(shown)
            assert timeline(store, aggregate_id, moment).version == len(shown)
            if kind(events) in readers:
                service, view = readers[kind(events)]
                assert service.get(AUDITOR, aggregate_id, as_of=moment) == view(fold(shown))


def test_every_aggregate_type_round_trips_through_its_snapshots(quarter: EventStore) -> None:
    store = quarter
    assert store.snapshots is not None
    snapshotted = set()
    for aggregate_id, events in stored_histories(store).items():
        for snapshot in store.snapshots.get(aggregate_id):
            assert isinstance(snapshot, AggregateSnapshot)
            assert snapshot.originator_version % INTERVAL == 0
            restored = snapshot.mutate(None)
            assert state(restored) == state(fold(events[: snapshot.originator_version]))
            snapshotted.add(kind(events))
    assert snapshotted >= KINDS
