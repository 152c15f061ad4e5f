"""Bulk ingestion from two processes at once: each platform comment becomes one interaction."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.interactions import BatchOutcome, Interactions
from nm_workflow.application.personal_data import KeyVault
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.interaction import Interaction
from nm_workflow.domain.roles import Role

CRAWLER = CommandContext(Actor("crawler", frozenset({Role.SERVICE}), "it"))


def comments(count: int) -> list[dict[str, Any]]:
    return [
        {
            "platform": ("weibo", "douyin")[i % 2], "platform_id": f"p-{i // 2}", "kind": "comment",
            "text": f"第{i}条评论", "author_handle": f"@user{i}",
            "received_at": datetime(2026, 3, 1, 8, i % 60, tzinfo=UTC), "sentiment": "neutral",
        }
        for i in range(count)
    ]  # fmt: skip


def test_two_processes_sending_the_same_comments_at_once_create_each_once(
    make_settings: Callable[..., Settings],
) -> None:
    stores = [EventStore(make_settings(db_pool_size=4)) for _ in range(2)]
    settings = make_settings()
    services = [Interactions(store, settings) for store in stores]
    batch = comments(60)
    start = threading.Barrier(2)
    results: list[list[BatchOutcome]] = [[], []]

    def ingest(worker: int) -> None:
        start.wait()
        # One process sends the batch as it came, the other reversed: they meet in the middle.
        items = batch if worker == 0 else batch[::-1]
        results[worker] = services[worker].receive_batch(CRAWLER, list(items))

    threads = [threading.Thread(target=ingest, args=(w,)) for w in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        outcomes = [o for result in results for o in result]
        assert len(outcomes) == 120
        assert {o.status for o in outcomes} <= {"created", "already_known"}
        created = Counter(o.interaction_id for o in outcomes if o.status == "created" and o.interaction_id)
        assert len(created) == 60
        assert set(created.values()) == {1}, "every comment created exactly once"
        for interaction_id in created:
            events = stores[0].stored_events(interaction_id)
            assert [type(e).__name__ for e in events] == ["Received"]
            loaded = stores[1].load(interaction_id)
            assert isinstance(loaded, Interaction)
            # Both processes agree on the key: the text opens from either.
            view = services[1].get(CRAWLER.actor, interaction_id)
            assert view["text"].startswith("第")
    finally:
        for store in stores:
            store.close()


def test_a_batch_that_loses_the_race_for_one_comment_still_records_the_others(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = (EventStore(make_settings()) for _ in range(2))
    settings = make_settings()
    winner, loser = Interactions(first, settings), Interactions(second, settings)
    try:
        contested, *others = comments(4)
        winner.receive(CRAWLER, contested)
        # The loser checked before the winner saved: it believes every comment is new.
        monkeypatch.setattr(loser._runner, "exists", lambda _: False)
        outcomes = loser.receive_batch(CRAWLER, [contested, *others])
        assert [o.status for o in outcomes] == ["already_known", "created", "created", "created"]
        assert len({o.interaction_id for o in outcomes}) == 4
    finally:
        first.close()
        second.close()


def test_processes_starting_together_all_open_the_key_table(make_settings: Callable[..., Settings]) -> None:
    stores = [EventStore(make_settings()) for _ in range(4)]
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def open_vault(store: EventStore) -> None:
        start.wait()
        try:
            KeyVault(store)
        except BaseException as error:  # reported below, on the test's thread
            failures.append(error)

    threads = [threading.Thread(target=open_vault, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == []
    finally:
        for store in stores:
            store.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_processes_making_the_same_keys_in_opposite_orders_never_deadlock(
    make_settings: Callable[..., Settings],
) -> None:
    stores = [EventStore(make_settings(db_pool_size=2)) for _ in range(2)]
    vaults = [KeyVault(store) for store in stores]
    failures: list[BaseException] = []
    try:
        for _ in range(10):
            ids = [uuid4() for _ in range(300)]
            start = threading.Barrier(2)
            made: list[dict[UUID, bytes]] = [{}, {}]

            def make(
                worker: int,
                ids: list[UUID] = ids,
                start: threading.Barrier = start,
                made: list[dict[UUID, bytes]] = made,
            ) -> None:
                start.wait()
                try:
                    made[worker] = vaults[worker].keys_for(ids if worker == 0 else ids[::-1])
                except BaseException as error:
                    failures.append(error)

            threads = [threading.Thread(target=make, args=(w,)) for w in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not failures, failures
            assert made[0] == made[1], "both processes got the one key of each interaction"
    finally:
        for store in stores:
            store.close()
