"""Webhooks under load: a real server on PostgreSQL, 8 concurrent writers (conflicts leave gaps in the
positions), a delivery worker in another process, and a receiver that gets every event exactly once,
in position order, as the feed represents it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx2
import pytest

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.event_feed import feed_item, public_type
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.application.webhooks import DELIVERABLE_TYPES, Webhooks
from nm_workflow.domain.roles import Role
from projections.ownership import Ownership
from projections.webhook_delivery import webhook_run
from tests.e2e.api import PLAN
from tests.e2e.live import served
from tests.e2e.test_feed_live import WRITERS, keys, write
from tests.support.receiver import Receiver, receiver

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]
ADMIN = CommandContext(Actor("ada", frozenset({Role.ADMIN}), "it"))


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def test_a_receiver_gets_every_event_once_in_order_while_eight_writers_commit(
    settings: Settings, hook: Receiver
) -> None:
    key = keys(settings)
    worker = settings.model_copy(
        update={"webhook_allow_private_addresses": True, "projection_poll_interval": 0.02}
    )
    store = EventStore(worker)
    ownership = Ownership(worker)
    run = webhook_run(worker, store, ownership)
    try:
        made = Webhooks(store, worker).subscribe(ADMIN, hook.url, sorted(DELIVERABLE_TYPES), "load test")
        run.thread.start()
        with served(settings, embedded_projections="false") as url:
            answer = httpx2.post(
                f"{url}/items", json=PLAN, headers={"Authorization": f"Bearer {key['marketing']}"}
            )
            refused: list[int] = []
            writers = [
                threading.Thread(target=write, args=(url, key, n, answer.json()["id"], refused))
                for n in range(WRITERS)
            ]
            for thread in writers:
                thread.start()
            for thread in writers:
                thread.join()
        start = made.view["start_after"]
        expected = [
            feed_item(n, store.mapper)
            for n in store.notifications(start=start + 1)
            if (kind := public_type(n.topic)) is not None and kind.name in DELIVERABLE_TYPES
        ]
        hook.wait_until(lambda h: len(h.delivered()) >= len(expected), timeout=120)
    finally:
        run.stop(30)
        ownership.close()
        store.close()
    assert len(expected) > WRITERS, "the writers' events are in the log"
    assert [r.event for r in hook.delivered()] == expected
    assert len(hook.requests) == len(expected)
