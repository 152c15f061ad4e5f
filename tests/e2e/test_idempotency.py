"""Retried commands return the first response and append nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.api import DRAFT, PLAN, Api
from tests.support.figures import Figures


def _log_head(api: Api) -> int:
    return int(api.client.app.state.store.head())  # type: ignore[attr-defined]


def test_a_retry_returns_the_first_response_and_appends_nothing(api: Api) -> None:
    first = api.post("/items", PLAN, api.marketing, idempotency_key="plan-42")
    head = _log_head(api)
    retry = api.post("/items", PLAN, api.marketing, idempotency_key="plan-42")
    assert (retry.status_code, retry.json()) == (first.status_code, first.json())
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert _log_head(api) == head


def test_a_retry_after_later_changes_still_returns_the_first_response(api: Api) -> None:
    item = api.planned()
    first = api.post(f"/items/{item}/drafts", DRAFT, api.marketing, idempotency_key="d-1")
    api.post(f"/items/{item}/drafts", {**DRAFT, "title": "second"}, api.marketing)
    lost_response_retry = api.post(f"/items/{item}/drafts", DRAFT, api.marketing, idempotency_key="d-1")
    assert lost_response_retry.json() == first.json()
    assert lost_response_retry.json()["current_revision"]["number"] == 1
    history = api.get(f"/items/{item}/history", api.marketing).json()
    assert [e["type"] for e in history] == ["Planned", "Drafted", "Drafted"]


def test_a_retry_against_another_app_instance_on_the_same_database(app_factory: Callable[..., Api]) -> None:
    one, two = app_factory(), app_factory()
    key = one.marketing
    first = one.post("/items", PLAN, key, idempotency_key="cross-process")
    one.client.__exit__(None, None, None)  # the first process goes away (restart)
    retry = two.post("/items", PLAN, key, idempotency_key="cross-process")
    assert retry.status_code == 201
    assert retry.json() == first.json()
    restarted = app_factory()
    assert restarted.post("/items", PLAN, key, idempotency_key="cross-process").json() == first.json()


def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    api.post("/items", PLAN, api.marketing, idempotency_key="k")
    other = api.post("/items", {**PLAN, "theme": "other"}, api.marketing, idempotency_key="k")
    assert (other.status_code, other.json()["type"]) == (422, "/problems/idempotency-key-reused")
    item = api.planned()
    elsewhere = api.post(f"/items/{item}/drafts", DRAFT, api.marketing, idempotency_key="k")
    assert elsewhere.status_code == 422


def test_keys_belong_to_their_actor(api: Api) -> None:
    mine = api.post("/items", PLAN, api.marketing, idempotency_key="shared-name")
    other_actor = api.key("noah", "marketing")
    theirs = api.post("/items", PLAN, other_actor, idempotency_key="shared-name")
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]


def test_a_failed_command_is_not_remembered(api: Api) -> None:
    item = api.planned()
    too_early = api.post(f"/items/{item}/review-requests", {}, api.marketing, idempotency_key="rr")
    assert too_early.status_code == 409
    api.post(f"/items/{item}/drafts", DRAFT, api.marketing)
    now_valid = api.post(f"/items/{item}/review-requests", {}, api.marketing, idempotency_key="rr")
    assert now_valid.status_code == 200


def test_concurrent_retries_create_exactly_one_item(
    app_factory: Callable[..., Api], figures: Figures
) -> None:
    api = app_factory(db_pool_size=10)
    key, head = api.marketing, _log_head(api)
    barrier = threading.Barrier(10)

    def send(_: int) -> tuple[int, dict[str, object]]:
        barrier.wait()
        response = api.post("/items", PLAN, key, idempotency_key="storm")
        return response.status_code, response.json()

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(send, range(10)))
    assert {status for status, _ in results} == {201}
    assert len({str(body["id"]) for _, body in results}) == 1
    assert _log_head(api) - head == 2  # one Planned, one idempotency record
    figures(commands_sent=len(results), items_created=1, duplicated=0)
