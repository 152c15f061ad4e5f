"""A command on the event loop whose caller is cancelled while it waits for its commit (ADR 0079)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.loop_bridge import run_on_loop
from nm_workflow.application.policy_book import book_of
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.application.webhooks import DELIVERABLE_TYPES, Webhooks
from nm_workflow.domain.roles import Role
from tests.support.waiting import DEADLINE

ADMIN = CommandContext(Actor("ada", frozenset({Role.ADMIN}), "it"))


def test_a_subscription_cancelled_while_its_commit_waits_is_stored_with_its_secret(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The subscription's secret is kept before its commit and forgotten if the command fails. A
    # cancellation raised where the command waited for its commit made it forget the secret of a
    # subscription that its batch then committed: stored, and never able to sign a delivery.
    committing, release = threading.Event(), threading.Event()
    real = EventStore._commit

    def held(store: EventStore, batch: Sequence[Any]) -> None:
        if not release.is_set():
            committing.set()
            assert release.wait(DEADLINE)
        real(store, batch)

    monkeypatch.setattr(EventStore, "_commit", held)
    # As when another process holds the write turn: the commit goes to the committer thread, where
    # the loop can cancel its caller while it waits (alone, it would commit on the loop: ADR 0085).
    monkeypatch.setattr(EventStore, "_commit_at_once", lambda _store, _batch: False)
    settings = make_settings()
    store = EventStore(settings)
    try:
        release.set()
        book_of(store).in_force()  # the seed policy committed before the commit is held
        release.clear()
        webhooks = Webhooks(store, settings)

        def subscribing() -> object:
            return webhooks.subscribe(
                ADMIN, "https://hooks.example.com/in", sorted(DELIVERABLE_TYPES)[:1], "cancelled"
            )

        async def main() -> None:
            task = asyncio.ensure_future(run_on_loop(subscribing))
            async with asyncio.timeout(DEADLINE):
                while not committing.is_set():
                    await asyncio.sleep(0.001)
            task.cancel()
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        store.close()  # what was handed to the committer is committed by now
        store = EventStore(settings)
        webhooks = Webhooks(store, settings)
        subscriptions, _ = webhooks.subscription_ids(0)
        assert [webhooks.state.secret(s) is not None for s in subscriptions] == [True]
    finally:
        store.close()
