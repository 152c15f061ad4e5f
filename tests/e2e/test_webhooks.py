"""Webhooks delivered to a real receiver on the loopback (ADR 0034, docs/webhooks.md)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nm_workflow.domain.roles import Role
from tests.e2e.api import PLAN, Api
from tests.support.receiver import Receiver, receiver

PLANNED = "ContentItem.Planned"
FAST = {
    "webhook_allow_private_addresses": True,
    "projection_poll_interval": 0.02,
    "webhook_retry_initial_seconds": 0.01,
    "webhook_retry_max_interval_seconds": 0.05,
}
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def admin(api: Api) -> str:
    return api.key("ada", Role.ADMIN, "it")


def subscribe(api: Api, url: str, types: list[str] | None = None) -> dict[str, Any]:
    response = api.post("/webhooks", {"url": url, "event_types": types or [PLANNED]}, admin(api))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def plan(api: Api) -> int:
    response = api.post("/items", PLAN, api.marketing)
    assert response.status_code == 201, response.text
    return int(response.headers["Log-Position"])


def documented_check() -> Callable[[str, str, bytes, int], bool]:
    """The receiver's check exactly as docs/webhooks.md shows it (its one Python block)."""
    page = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```python\n(.*?)```", page, re.S)
    namespace: dict[str, Any] = {}
    exec(block, namespace)
    check: Callable[[str, str, bytes, int], bool] = namespace["signature_is_valid"]
    return check


def delivered_positions(hook: Receiver) -> list[int]:
    return [r.position for r in hook.delivered()]


def test_a_receiver_sees_every_event_once_in_order_while_writers_commit(
    app_factory: Callable[..., Api], hook: Receiver
) -> None:
    # Two API processes, each with its embedded projection thread: one of them delivers.
    apis = [app_factory(**FAST), app_factory(**FAST)]
    subscription = subscribe(apis[0], hook.url)
    written: list[int] = []
    lock = threading.Lock()

    def writer(api: Api) -> None:
        for _ in range(5):
            position = plan(api)
            with lock:
                written.append(position)

    writers = [threading.Thread(target=writer, args=(apis[n % 2],)) for n in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    hook.wait_until(lambda h: len(h.delivered()) >= len(written))
    assert delivered_positions(hook) == sorted(written)
    events = [r.event for r in hook.delivered()]
    assert {e["type"] for e in events} == {PLANNED}
    assert [e["position"] for e in events] == sorted(written)
    assert all(r.headers["Nm-Webhook-Id"] == subscription["id"] for r in hook.requests)
    assert all(r.headers["Nm-Delivery-Kind"] == "delivery" for r in hook.requests)


@sqlite_only
def test_a_receiver_failing_for_a_while_gets_everything_after_it_recovers_in_order(
    app_factory: Callable[..., Api], hook: Receiver
) -> None:
    hook.answer = lambda n: 500 if n < 4 else 204
    api = app_factory(**FAST)
    subscription = subscribe(api, hook.url)
    written = [plan(api) for _ in range(3)]
    hook.wait_until(lambda h: len(h.delivered()) >= 3)
    assert delivered_positions(hook) == written
    # While failing, the first event was retried, and nothing behind it was sent ahead of it.
    assert [r.position for r in hook.requests[:5]] == [written[0]] * 5
    log = api.get(f"/webhooks/{subscription['id']}/deliveries", admin(api)).json()
    first = [row for row in log if row["position"] == written[0]]
    assert [row["outcome"] for row in first] == ["delivered"] + ["failed"] * 4
    assert first[-1]["status_code"] == 500
    state = api.get(f"/webhooks/{subscription['id']}", admin(api)).json()
    assert state["state"] == "active"
    assert (state["failed_attempts"], state["delivered_through"]) == (0, written[-1])


@sqlite_only
def test_a_receiver_failing_past_the_retry_time_pauses_the_subscription_until_resumed(
    app_factory: Callable[..., Api], hook: Receiver
) -> None:
    hook.answer = lambda _: 503
    api = app_factory(**FAST, webhook_retry_for_seconds=0.2)
    subscription = subscribe(api, hook.url)
    path = f"/webhooks/{subscription['id']}"
    written = plan(api)
    paused = wait_for_state(api, path, "paused")
    assert "503" in paused["paused_reason"]
    history = api.get(path, admin(api))
    assert history.status_code == 200
    attempts = len(hook.requests)
    assert attempts >= 2
    hook.answer = lambda _: 204
    resumed = api.post(f"{path}/resume", {}, admin(api))
    assert resumed.status_code == 200, resumed.text
    hook.wait_until(lambda h: len(h.delivered()) >= 1)
    assert delivered_positions(hook) == [written]


@sqlite_only
def test_redelivery_and_the_documented_signature_check(
    app_factory: Callable[..., Api], hook: Receiver
) -> None:
    api = app_factory(**FAST)
    subscription = subscribe(api, hook.url)
    written = plan(api)
    hook.wait_until(lambda h: len(h.delivered()) >= 1)
    asked = api.post(f"/webhooks/{subscription['id']}/deliveries/{written}/redelivery", {}, admin(api))
    assert asked.status_code == 200, asked.text
    hook.wait_until(lambda h: len(h.delivered()) >= 2)
    first, again = hook.delivered()
    assert again.headers["Nm-Delivery-Kind"] == "redelivery"
    assert again.body == first.body
    assert again.position == written
    secret, now, check = subscription["secret"], int(time.time()), documented_check()
    for request in (first, again):
        header = request.headers["Nm-Signature"]
        tampered = request.body.replace(b'"version":1', b'"version":2')
        assert tampered != request.body
        assert check(secret, header, request.body, now)
        assert not check(secret, header, tampered, now)
        assert not check(secret + "x", header, request.body, now)
        assert not check(secret, header, request.body, now + 3600)  # an old request, replayed
        assert not check(secret, header.replace("t=", "t=1"), request.body, now)
    assert "secret" not in api.get(f"/webhooks/{subscription['id']}", admin(api)).json()


@sqlite_only
def test_bad_input_gets_a_problem_and_writes_nothing(app_factory: Callable[..., Api]) -> None:
    api = app_factory()  # private addresses refused: the default
    key = admin(api)
    refused = {
        "ftp://hooks.example.com/x": "/problems/invalid-webhook-url",
        "https://user:pw@hooks.example.com/x": "/problems/invalid-webhook-url",
        "https://hooks.example.com:99999/x": "/problems/invalid-webhook-url",
        "http://127.0.0.1:8080/x": "/problems/invalid-webhook-url",
        "http://127.1/x": "/problems/invalid-webhook-url",  # every resolver reads 127.0.0.1
        "http://0x7f000001/x": "/problems/invalid-webhook-url",
        "http://2130706433/x": "/problems/invalid-webhook-url",
        "http://0177.0.0.1/x": "/problems/invalid-webhook-url",
        "http://10.1.2.3/x": "/problems/invalid-webhook-url",
        "http://[::1]/x": "/problems/invalid-webhook-url",
        "http://localhost/x": "/problems/invalid-webhook-url",
        "/relative": "/problems/invalid-webhook-url",
        "https://例子.测试/钩子": "/problems/invalid-webhook-url",
        "https://hooks.example.com/x\x00": "/problems/invalid-webhook-url",
        "https://hooks..example.com/x": "/problems/invalid-webhook-url",  # no lookup could ever succeed
        f"https://{'h' * 64}.example.com/x": "/problems/invalid-webhook-url",
    }
    for url, problem in refused.items():
        response = api.post("/webhooks", {"url": url, "event_types": [PLANNED]}, key)
        assert (response.status_code, response.json()["type"]) == (422, problem), url
    for types, problem in (
        (["ApiKey.KeyIssued"], "/problems/undeliverable-event-type"),
        (["Feedback.FeedbackSubmitted"], "/problems/undeliverable-event-type"),
        ([PLANNED, PLANNED], "/problems/rule-violation"),
        ([], "/problems/validation-error"),
    ):
        response = api.post("/webhooks", {"url": "https://hooks.example.com/x", "event_types": types}, key)
        assert (response.status_code, response.json()["type"]) == (422, problem), types
    by_marketing = api.post(
        "/webhooks", {"url": "https://h.example.com", "event_types": [PLANNED]}, api.marketing
    )
    assert by_marketing.status_code == 403
    assert api.get("/webhooks", key).json() == []
    hook = {"url": "https://hooks.example.com/x", "event_types": [PLANNED]}
    made = api.post("/webhooks", hook, key, Idempotency_Key="hook-1").json()
    retried = api.post("/webhooks", hook, key, Idempotency_Key="hook-1")
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert (retried.json()["id"], retried.json()["secret"]) == (made["id"], made["secret"])
    assert len(api.get("/webhooks", key).json()) == 1
    path = f"/webhooks/{made['id']}"
    assert api.post(f"{path}/resume", {}, key).json()["type"] == "/problems/webhook-not-active"
    missing = api.post(f"{path}/deliveries/999999/redelivery", {}, key)
    assert (missing.status_code, missing.json()["type"]) == (404, "/problems/not-found")
    assert api.post(f"{path}/deletion", {}, key).status_code == 200
    assert api.post(f"{path}/pause", {"reason": "r"}, key).json()["type"] == "/problems/webhook-deleted"
    assert api.get("/webhooks", key).json() == []
    assert api.get(path, api.marketing).status_code == 403


def wait_for_state(api: Api, path: str, state: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.get(path, admin(api)).json()
        if body["state"] == state:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.02)
