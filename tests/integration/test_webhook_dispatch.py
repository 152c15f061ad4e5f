"""The delivery worker's steps, driven one by one: a failure after the receiver's 2xx resends, never skips."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from nm_workflow.application.channels import ChannelAccounts
from nm_workflow.application.commands import CommandContext
from nm_workflow.application.errors import StoreUnavailable
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.application.webhooks import Webhooks
from nm_workflow.domain.roles import Role
from projections.webhook_delivery import Dispatcher
from tests.support.receiver import Receiver, receiver

ADMIN = CommandContext(Actor("ada", frozenset({Role.ADMIN}), "it"))
MARKETING = CommandContext(Actor("mia", frozenset({Role.MARKETING}), "marketing"))
REGISTERED = "ChannelAccount.Registered"


pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # the logic; the databases: test_webhooks


@dataclass
class World:
    """A store, a receiver, a subscription of the receiver to account registrations, a dispatcher."""

    store: EventStore
    hook: Receiver
    webhooks: Webhooks
    subscription: UUID
    start_after: int
    dispatcher: Dispatcher
    accounts: ChannelAccounts

    def register(self, n: int) -> int:
        account = {"platform": "weibo", "account_id": f"a-{n}", "account_name": "A"}
        return self.accounts.register(MARKETING, account).position

    def log(self) -> list[dict[str, Any]]:
        return self.webhooks.deliveries(ADMIN.actor, self.subscription, None, 50)


@pytest.fixture
def world(make_settings: Callable[..., Settings]) -> Iterator[World]:
    settings = make_settings(webhook_allow_private_addresses=True)
    store = EventStore(settings)
    try:
        with receiver() as hook:
            webhooks = Webhooks(store, settings)
            made = webhooks.subscribe(ADMIN, hook.url, [REGISTERED], "dispatch test")
            dispatcher = Dispatcher(settings, store, webhooks)
            yield World(
                store, hook, webhooks, made.aggregate_id, made.view["start_after"], dispatcher,
                ChannelAccounts(store, settings),
            )  # fmt: skip
    finally:
        store.close()


def test_a_failure_after_the_receiver_answered_sends_the_event_again_and_skips_none(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = [world.register(n) for n in range(3)]
    advance, failures = world.webhooks.state.advance, iter([True])

    def lose_the_commit_once(*args: Any) -> bool:
        if next(failures, False):
            raise StoreUnavailable("the database went away after the receiver answered")
        return advance(*args)

    monkeypatch.setattr(world.webhooks.state, "advance", lose_the_commit_once)
    with pytest.raises(StoreUnavailable):
        world.dispatcher.step()
    while world.dispatcher.step():
        pass
    assert [r.position for r in world.hook.delivered()] == [written[0], *written]  # the first one twice
    assert world.webhooks.state.cursor(world.subscription, 0).delivered_through == world.store.head()
    assert sorted(row["position"] for row in world.log()) == written  # logged once each: when committed


def test_without_its_secret_nothing_is_sent_and_the_failure_is_logged(world: World) -> None:
    written = world.register(1)
    world.webhooks.state.forget_secret(world.subscription)
    assert world.dispatcher.step()
    assert world.hook.requests == []
    (row,) = world.log()
    assert (row["position"], row["outcome"], row["status_code"]) == (written, "failed", None)
    assert "secret is missing" in row["error"]
    assert world.webhooks.get(ADMIN.actor, world.subscription)["delivered_through"] == world.start_after
