"""The policy across processes: one seed, one open proposal, and the version in force seen everywhere."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from nm_workflow.application.loop_bridge import run_on_loop
from nm_workflow.application.policy_book import book_of
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.workflow_policy import POLICY_ID
from tests.e2e.api import Api
from tests.e2e.test_policy import DEPARTMENTS, adopted, manager, propose, review, rules
from tests.support.waiting import DEADLINE


def test_processes_starting_together_record_one_seed(make_settings: Callable[..., Settings]) -> None:
    stores = [EventStore(make_settings()) for _ in range(3)]  # three processes' stores, nothing seeded
    barrier = threading.Barrier(len(stores))
    versions: list[int] = []

    def first_read(store: EventStore) -> None:
        barrier.wait()
        versions.append(book_of(store).in_force()["version"])

    threads = [threading.Thread(target=first_read, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert versions == [1, 1, 1]
        assert [type(e).__name__ for e in stores[0].stored_events(POLICY_ID)] == ["Seeded"]
    finally:
        for store in stores:
            store.close()


def test_commands_on_the_event_loop_reading_the_policy_first_together_record_one_seed(
    make_settings: Callable[..., Settings],
) -> None:
    # Each waits for its commit on the loop (ADR 0079): a first reader holding the book's lock
    # while its seed committed stopped the loop for good at the second reader's turn.
    store = EventStore(make_settings())  # nothing seeded
    versions: list[int] = []

    async def together() -> None:
        calls = [run_on_loop(lambda: book_of(store).in_force()["version"]) for _ in range(4)]
        versions.extend(await asyncio.gather(*calls))

    serving = threading.Thread(target=asyncio.run, args=(together(),), daemon=True)
    try:
        serving.start()
        serving.join(DEADLINE)
        assert not serving.is_alive(), "the event loop is stuck"
        assert versions == [1, 1, 1, 1]
        assert [type(e).__name__ for e in store.stored_events(POLICY_ID)] == ["Seeded"]
    finally:
        store.close()


def test_two_proposals_at_once_one_wins_and_the_other_is_told_why(app_factory: Callable[..., Api]) -> None:
    first, second = app_factory(), app_factory()
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def send(api: Api, reason: str) -> None:
        barrier.wait()
        answers.append(api.post("/policies", {"rules": rules(), "reason": reason}, api.marketing))

    threads = [threading.Thread(target=send, args=(api, f"r{n}")) for n, api in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409], [a.text for a in answers]
    (refused,) = [a for a in answers if a.status_code == 409]
    assert refused.json()["type"] in ("/problems/policy-proposal-open", "/problems/concurrent-modification")
    assert [v["version"] for v in first.get("/policies", first.marketing).json()] == [1, 2]


def test_a_version_approved_in_one_process_stamps_the_next_command_of_another(
    app_factory: Callable[..., Api],
) -> None:
    one, other = app_factory(), app_factory()
    item = other.drafted()  # the other process has read (and cached) version 1
    adopted(one)
    response = other.post(f"/items/{item}/review-requests", {}, other.marketing)
    assert response.json()["review_policy_version"] == 2
    history = other.get(f"/items/{item}/history", other.marketing).json()
    assert [e["metadata"]["policy_version"] for e in history] == [1, 1, 2]


def test_a_retried_policy_command_returns_its_first_result(api: Api) -> None:
    body = {"rules": rules(), "reason": "r"}
    first = api.post("/policies", body, api.marketing, idempotency_key="p-1")
    again = api.post("/policies", body, api.marketing, idempotency_key="p-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["version"] == 2
    assert [v["version"] for v in api.get("/policies", api.marketing).json()] == [1, 2]
    for department in DEPARTMENTS:
        review(api, department)
    stale = api.post("/policies/2/approval", {}, manager(api), if_match='"1"')
    assert stale.status_code == 412
    assert propose(api).status_code == 409
