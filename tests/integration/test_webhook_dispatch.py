"""The delivery worker's steps, driven one by one: a failure after the receiver's 2xx resends, never skips."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

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


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_failure_after_the_receiver_answered_sends_the_event_again_and_skips_none(
    make_settings: Callable[..., Settings], hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(webhook_allow_private_addresses=True)
    store = EventStore(settings)
    try:
        webhooks = Webhooks(store, settings)
        made = webhooks.subscribe(ADMIN, hook.url, [REGISTERED], "crash test")
        accounts = ChannelAccounts(store, settings)
        written = [
            accounts.register(
                MARKETING, {"platform": "weibo", "account_id": f"a-{n}", "account_name": "A"}
            ).position
            for n in range(3)
        ]
        dispatcher = Dispatcher(settings, store, webhooks)
        advance = webhooks.state.advance
        failures = iter([True])

        def lose_the_commit_once(*args: Any) -> bool:
            if next(failures, False):
                raise StoreUnavailable("the database went away after the receiver answered")
            return advance(*args)

        monkeypatch.setattr(webhooks.state, "advance", lose_the_commit_once)
        with pytest.raises(StoreUnavailable):
            dispatcher.step()
        while dispatcher.step():
            pass
        assert [r.position for r in hook.delivered()] == [written[0], *written]  # the first one twice
        cursor = webhooks.state.cursor(made.aggregate_id, 0)
        assert cursor.delivered_through == store.head()
        log = webhooks.deliveries(ADMIN.actor, made.aggregate_id, None, 50)
        assert sorted(row["position"] for row in log) == written  # logged once each: when committed
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_without_its_secret_nothing_is_sent_and_the_failure_is_logged(
    make_settings: Callable[..., Settings], hook: Receiver
) -> None:
    settings = make_settings(webhook_allow_private_addresses=True)
    store = EventStore(settings)
    try:
        webhooks = Webhooks(store, settings)
        made = webhooks.subscribe(ADMIN, hook.url, [REGISTERED], "secret lost")
        account = {"platform": "weibo", "account_id": "a-1", "account_name": "A"}
        written = ChannelAccounts(store, settings).register(MARKETING, account).position
        webhooks.state.forget_secret(made.aggregate_id)
        assert Dispatcher(settings, store, webhooks).step()
        assert hook.requests == []
        (row,) = webhooks.deliveries(ADMIN.actor, made.aggregate_id, None, 50)
        assert (row["position"], row["outcome"], row["status_code"]) == (written, "failed", None)
        assert "secret is missing" in row["error"]
        assert webhooks.get(ADMIN.actor, made.aggregate_id)["delivered_through"] == made.view["start_after"]
    finally:
        store.close()
