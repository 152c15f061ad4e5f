"""The lean command path (ADR 0027): its guarantees across two processes, and its round trips.

Two apps on one database stand for two API processes: each has its own pool, its own keys
seen and its own policy held.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from anyio import to_thread

from bench import roundtrips
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from tests.e2e.api import DRAFT, PLAN, Api
from tests.e2e.test_policy import adopted, problem
from tests.support.broken_connections import break_every_connection

# Per command of the walk in steady state (bench/roundtrips.py), on each backend: one read
# (key, idempotency record, item, policy), then the save. PostgreSQL: round trips, the save
# being one statement, a call of the insert function with the hash chain's links in its insert
# (ADR 0036, ADR 0046),
# and one more where a pooled connection prepares the read's statement on its first use.
# SQLite: statements, the read one SELECT on its own, the save in BEGIN ... COMMIT with the
# chain's last link and one insert per event.
# `plan` too: the caller's department it defaults to is the key's (`ctx.claimed`), checked by that read.
BUDGETS = {"postgres": 3, "sqlite": 8}


def key_id(token: str) -> UUID:
    return UUID(hex=token.split("_")[1])


def version_of(api: Api, item: str) -> int:
    return int(api.get(f"/items/{item}", api.key("reader", "marketing")).headers["ETag"].strip('"'))


def test_a_key_revoked_in_one_process_is_refused_by_the_next_command_of_another(
    app_factory: Callable[..., Api],
) -> None:
    one, other = app_factory(embedded_projections=False), app_factory(embedded_projections=False)
    token = one.marketing
    item = other.post("/items", PLAN, token).json()["id"]  # the other process has seen the key
    assert other.post(f"/items/{item}/drafts", DRAFT, token).status_code == 200

    assert one.client.app.state.keys.revoke(key_id(token), revoked_by="test")  # type: ignore[attr-defined]

    problem(other.post(f"/items/{item}/drafts", DRAFT, token, If_Match='"2"'), 401, "unauthenticated")
    problem(other.post("/items", PLAN, token), 401, "unauthenticated")
    problem(other.get(f"/items/{item}", token), 401, "unauthenticated")
    assert version_of(other, item) == 2  # nothing written


def test_a_policy_approved_in_one_process_is_in_force_for_the_next_command_of_another(
    app_factory: Callable[..., Api],
) -> None:
    one, other = app_factory(embedded_projections=False), app_factory(embedded_projections=False)
    item = other.planned()  # the other process holds version 1
    adopted(one)

    assert other.post(f"/items/{item}/drafts", DRAFT, other.marketing).status_code == 200
    stored = other.client.app.state.store.stored_events(UUID(item))  # type: ignore[attr-defined]
    assert [event.meta["policy_version"] for event in stored] == [1, 2]


def test_an_idempotent_retry_of_a_step_answers_the_first_outcome_from_the_one_read(api: Api) -> None:
    item = api.planned()
    first = api.post(f"/items/{item}/drafts", DRAFT, api.marketing, Idempotency_Key="d-1", If_Match='"1"')
    assert api.post(f"/items/{item}/drafts", DRAFT, api.marketing, Idempotency_Key="d-2").status_code == 200
    again = api.post(f"/items/{item}/drafts", DRAFT, api.marketing, Idempotency_Key="d-1", If_Match='"1"')
    assert (again.status_code, again.json(), again.headers["ETag"]) == (200, first.json(), '"2"')
    assert version_of(api, item) == 3


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # only PostgreSQL pools connections
def test_commands_succeed_after_every_pooled_connection_was_broken(
    app_factory: Callable[..., Api], settings: Settings
) -> None:
    api = app_factory(embedded_projections=False)
    item = api.planned()
    assert settings.database_url is not None
    break_every_connection(settings.database_url)

    drafted = api.post(f"/items/{item}/drafts", DRAFT, api.marketing, If_Match='"1"')
    assert drafted.status_code == 200, drafted.text
    assert api.post(f"/items/{item}/review-requests", {}, api.marketing).status_code == 200


def test_one_approval_costs_one_read_and_the_save(backend: str, settings: Settings, tmp_path: Path) -> None:
    trips = roundtrips.run(settings, tmp_path)
    for name, each in trips.items():
        assert len(each) <= BUDGETS[backend], f"{name}: {len(each)} round trips:\n" + "\n".join(each)
    statements = [trip.split(": ", 1)[-1] for trip in trips["approve (editor)"]]
    reads = [s for s in statements if s.startswith("SELECT") and "event_chain" not in s]
    (read,) = [s for s in reads if "_insert" not in s]  # not the save's call (PostgreSQL)
    assert " OR " in read or "unnest" in read  # the four aggregates in one statement


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_worker_runs_no_more_request_threads_than_its_share_of_connections(
    app_factory: Callable[..., Api],
) -> None:
    api = app_factory(db_pool_size=4, db_max_overflow=2, api_workers=2, embedded_projections=False)

    async def threads() -> float:
        return to_thread.current_default_thread_limiter().total_tokens

    assert api.client.portal is not None
    assert api.client.portal.call(threads) == 2 + 1
    pool = api.client.app.state.store.factory.datastore.pool  # type: ignore[attr-defined]
    assert (pool.min_size, pool.max_size) == (2, 3)


def store_of(api: Api) -> EventStore:
    store = api.client.app.state.store  # type: ignore[attr-defined]
    assert isinstance(store, EventStore)
    return store


def test_a_command_on_a_long_history_reads_only_what_follows_its_snapshot(
    app_factory: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, other = app_factory(snapshot_interval=3), app_factory(snapshot_interval=3)
    item = api.drafted()

    def draft(via: Api, body: str) -> int:
        response = via.post(f"/items/{item}/drafts", {**DRAFT, "body": body}, via.marketing)
        assert response.status_code == 200, response.text
        return int(response.headers["ETag"].strip('"'))

    for n in range(6):
        draft(api, f"take {n}")
    store, item_id = store_of(api), UUID(item)
    taken = store.snapshot_hints.get(item_id)
    assert taken >= 6, "this process took the snapshots, so it knows where they are"

    asked: list[int] = []
    events_of = store.events_of

    def spied(wanted: dict[UUID, int]) -> dict[UUID, list[Any]]:
        asked.append(wanted[item_id])
        return events_of(wanted)

    monkeypatch.setattr(store, "events_of", spied)
    version = draft(api, "after the snapshot")
    assert asked == [taken], "the item's events were read after its snapshot, not from the start"
    assert version == version_of(api, item) == 9, "decided on the whole history: no event lost"
    # A hint beyond the snapshots (one failed to be written) reads the whole history instead.
    store.snapshot_hints.note(item_id, 1000)
    assert draft(api, "hint too far") == 10
    # Another process read the whole history once; it starts from the snapshot the next time.
    assert draft(other, "elsewhere") == 11
    assert store_of(other).snapshot_hints.get(item_id) >= 6
    assert draft(other, "elsewhere, again") == 12
    body = other.get(f"/items/{item}", other.marketing).json()
    assert body == api.get(f"/items/{item}", api.marketing).json()
    assert body["current_revision"]["number"] == 11  # the first draft, six, and four here
    assert body["current_revision"]["body"] == "elsewhere, again"
