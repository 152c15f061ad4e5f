"""The one write path checks the department of every command's aggregate, new ones included (ADR 0016)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.errors import WrongDepartment
from nm_workflow.application.interactions import Interactions, Unreadable
from nm_workflow.application.items import ContentItems
from nm_workflow.application.policy_book import book_of
from nm_workflow.application.security import ANY_DEPARTMENT, PERMISSIONS, Actor, Command
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role

PLAN: dict[str, Any] = {
    "theme": "Spring launch",
    "format": "article",
    "target_audience": "existing customers",
    "expected_effect": "5% click-through",
    "platforms": ["wechat"],
    "campaign": None,
    "planned_publish_date": None,
}


def test_a_new_aggregate_of_another_department_is_refused_before_anything_is_written(
    store: EventStore,
) -> None:
    seller = Actor("sam", frozenset({Role.MARKETING}), "sales")
    book_of(store).policy()  # the seed policy, which the first command on an empty store records
    before = store.head()
    with pytest.raises(WrongDepartment, match="'marketing'"):
        ContentItems(store).plan(
            CommandContext(seller, idempotency_key="k-1"), {**PLAN, "department": "marketing"}
        )
    assert store.head() == before  # neither the item nor the idempotency record
    own = ContentItems(store).plan(CommandContext(seller, idempotency_key="k-1"), PLAN)
    assert (own.created, own.view["department"]) == (True, "sales")


def test_a_new_aggregate_is_recorded_under_the_role_that_reaches_its_department(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A table where the alphabetically first of two roles is confined to its own department.
    monkeypatch.setitem(PERMISSIONS, Command.PLAN, frozenset({Role.MANAGEMENT, Role.MARKETING}))
    monkeypatch.setitem(ANY_DEPARTMENT, Command.PLAN, frozenset({Role.MARKETING}))
    both = Actor("gus", frozenset({Role.MANAGEMENT, Role.MARKETING}), "sales")
    items = ContentItems(store)
    elsewhere = items.plan(CommandContext(both), {**PLAN, "department": "marketing"})
    at_home = items.plan(CommandContext(both), PLAN)
    roles = [store.stored_events(r.aggregate_id)[0].meta["role"] for r in (elsewhere, at_home)]
    assert roles == ["marketing", "management"]


def _comments(count: int) -> list[dict[str, Any] | Unreadable]:
    return [
        {
            "platform": "weibo", "platform_id": f"scope-{i}", "kind": "comment", "text": "hi",
            "author_handle": "@a", "received_at": datetime(2026, 3, 1, 8, i, tzinfo=UTC),
            "sentiment": "neutral",
        }
        for i in range(count)
    ]  # fmt: skip


def test_a_batch_of_new_interactions_is_checked_for_the_department_as_one_command_is(
    store: EventStore, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A table where receiving is confined to the own department: the batch's group commit
    # must refuse it as the single command does, and write nothing.
    monkeypatch.setitem(ANY_DEPARTMENT, Command.RECEIVE_INTERACTION, frozenset())
    interactions = Interactions(store, make_settings(interaction_department="customer_service"))
    outsider = CommandContext(Actor("olga", frozenset({Role.CUSTOMER_SERVICE}), "sales"))
    book_of(store).policy()  # the seed policy, which the first command on an empty store records
    before = store.head()
    with pytest.raises(WrongDepartment, match="'customer_service'"):
        interactions.receive_batch(outsider, _comments(3))
    with pytest.raises(WrongDepartment):
        interactions.receive(outsider, _comments(1)[0])  # type: ignore[arg-type]
    assert store.head() == before
    insider = CommandContext(Actor("cara", frozenset({Role.CUSTOMER_SERVICE}), "customer_service"))
    outcomes = interactions.receive_batch(insider, _comments(3))
    assert [o.status for o in outcomes] == ["created"] * 3


def test_a_batch_is_recorded_under_the_role_that_reaches_the_department(
    store: EventStore, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    # customer_service (first alphabetically) is confined to its own department; service is not.
    monkeypatch.setitem(ANY_DEPARTMENT, Command.RECEIVE_INTERACTION, frozenset({Role.SERVICE}))
    both = CommandContext(Actor("bot", frozenset({Role.CUSTOMER_SERVICE, Role.SERVICE}), "it"))
    interactions = Interactions(store, make_settings(interaction_department="customer_service"))
    outcomes = interactions.receive_batch(both, _comments(2))
    roles = {store.stored_events(o.interaction_id)[0].meta["role"] for o in outcomes if o.interaction_id}
    assert (len(outcomes), roles) == (2, {"service"})
