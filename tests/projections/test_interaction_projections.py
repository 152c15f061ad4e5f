"""interaction_queue and interaction_log: deadlines on time, late and exactly at the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.interactions import Interactions
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from projections import ReadModel, rebuild
from tests.projections.conftest import SupervisorFactory
from tests.projections.scenario import snapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CS = CommandContext(Actor("cara", frozenset({Role.CUSTOMER_SERVICE}), "customer_service"))
LOGISTICS = CommandContext(Actor("lena", frozenset({Role.DEPARTMENT_HEAD}), "logistics"))
MANAGER = CommandContext(Actor("max", frozenset({Role.MANAGEMENT}), "management"))
NAMES = ["interaction_queue", "interaction_log"]


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def service(store: EventStore, settings: Settings, clock: ManualClock) -> Interactions:
    return Interactions(store, settings, clock=clock)


def receive(service: Interactions, platform_id: str, sentiment: str, at: datetime = T0) -> UUID:
    body: dict[str, Any] = {
        "platform": "weibo", "platform_id": platform_id, "kind": "comment", "text": "hello",
        "author_handle": "@someone", "received_at": at, "sentiment": sentiment,
    }  # fmt: skip
    return service.receive(CS, body).aggregate_id


def caught_up(store: EventStore, start: SupervisorFactory) -> None:
    supervisor = start(NAMES)
    assert supervisor.wait_for(store.head(), NAMES, timeout=60), [s.last_error for s in supervisor.status()]


def log_row(read_model: ReadModel, interaction: UUID) -> dict[str, Any]:
    return next(r for r in read_model.interaction_log(limit=500) if r["interaction_id"] == interaction)


def test_first_responses_on_time_exactly_at_the_limit_and_late(
    store: EventStore, service: Interactions, clock: ManualClock, read_model: ReadModel,
    start_supervisor: SupervisorFactory,
) -> None:  # fmt: skip
    early, exact, late = (receive(service, name, "neutral") for name in ("early", "exact", "late"))
    limit = T0 + timedelta(hours=24)  # the default first-response deadline
    clock.now = limit + timedelta(hours=2)
    service.respond(CS, early, "hi", T0 + timedelta(minutes=5))
    service.respond(CS, exact, "hi", limit)
    service.respond(CS, late, "hi", limit + timedelta(microseconds=1))
    caught_up(store, start_supervisor)
    rows = {i: log_row(read_model, i) for i in (early, exact, late)}
    assert [rows[i]["first_response_on_time"] for i in (early, exact, late)] == [True, True, False]
    assert rows[early]["first_response_seconds"] == 300
    assert rows[exact]["response_due"] == limit
    # Answered, none negative: each waits only to be resolved, which has no deadline.
    queue = read_model.interaction_queue(now=clock.now)
    assert {(r["next_step"], r["due_at"], r["overdue"]) for r in queue} == {("resolve", None, False)}


def test_the_queue_orders_by_the_next_deadline_and_computes_overdue_at_the_time_asked(
    store: EventStore, service: Interactions, clock: ManualClock, read_model: ReadModel,
    start_supervisor: SupervisorFactory,
) -> None:  # fmt: skip
    neutral = receive(service, "n", "neutral")
    clock.now = T0 + timedelta(hours=1)
    negative = receive(service, "neg", "negative", clock.now)
    caught_up(store, start_supervisor)
    queue = read_model.interaction_queue(now=T0 + timedelta(hours=9))
    assert [(r["interaction_id"], r["next_step"]) for r in queue] == [
        (negative, "escalate_or_resolve"), (neutral, "respond"),
    ]  # fmt: skip
    assert queue[0]["due_at"] == T0 + timedelta(hours=9)  # 1 + 8 hours: exactly at the limit, not overdue
    assert [r["overdue"] for r in queue] == [False, False]
    later = read_model.interaction_queue(now=T0 + timedelta(hours=9, seconds=1), overdue=True)
    assert [r["interaction_id"] for r in later] == [negative]
    assert read_model.interaction_queue({"department": "logistics"}, now=T0) == []


def test_escalation_handling_resolution_reopening_and_erasure_move_both_tables(
    store: EventStore, service: Interactions, clock: ManualClock, read_model: ReadModel,
    start_supervisor: SupervisorFactory,
) -> None:  # fmt: skip
    interaction = receive(service, "x", "negative")
    clock.now = T0 + timedelta(hours=10)  # after the 8-hour handling deadline
    service.respond(CS, interaction, "we are on it", None)
    service.escalate(CS, interaction, "logistics", "lost parcel")
    caught_up(store, start_supervisor)
    queue = read_model.interaction_queue({"department": "logistics"}, now=clock.now)
    assert [(r["next_step"], r["escalation"], r["due_at"]) for r in queue] == [("handle", "escalated", None)]
    service.handle(LOGISTICS, interaction, "re-sent")
    service.resolve(CS, interaction, "arrived")
    position = store.head()
    assert read_model.wait_for(position, NAMES)
    assert read_model.interaction_queue(now=clock.now) == []
    row = log_row(read_model, interaction)
    assert (row["state"], row["handling_on_time"], row["escalated_to"]) == ("resolved", False, "logistics")
    assert row["resolution_seconds"] == 10 * 3600
    clock.now += timedelta(hours=1)
    service.reopen(CS, interaction, "parcel was empty")
    service.erase(MANAGER, interaction, "user request")
    assert read_model.wait_for(store.head(), NAMES)
    reopened = read_model.interaction_queue(now=clock.now)
    assert [(r["state"], r["next_step"]) for r in reopened] == [("reopened", "respond")]
    assert reopened[0]["due_at"] == clock.now + timedelta(hours=24)
    row = log_row(read_model, interaction)
    assert (row["reopened"], row["personal_data_erased"], row["state"]) == (1, True, "reopened")

    incremental = snapshot(read_model, NAMES)
    for name in NAMES:
        rebuild(read_model, name)
    assert snapshot(read_model, NAMES) == incremental
