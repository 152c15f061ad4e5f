"""The feed's promise under load: a real server on PostgreSQL, 8 concurrent writers, and a long-poll
consumer and an SSE consumer (reconnecting with Last-Event-ID) that each see every public event
exactly once, in position order, including when rolled-back inserts leave gaps in the positions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from nm_workflow.application.event_feed import feed_item, public_type
from nm_workflow.application.keys import KeyService
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from tests.e2e.api import DRAFT, PLAN
from tests.e2e.live import served
from tests.e2e.test_interactions import comment

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]
WRITERS, COMMANDS_EACH, DEADLINE_SECONDS = 8, 12, 120


def keys(settings: Settings) -> dict[str, str]:
    store = EventStore(settings)
    try:
        service = KeyService(store)
        return {
            "marketing": service.create("mia", [Role.MARKETING], "marketing", issued_by="test"),
            "customer_service": service.create(
                "cara", [Role.CUSTOMER_SERVICE], "customer_service", issued_by="test"
            ),
            "auditor": service.create("audrey", [Role.AUDITOR], "audit", issued_by="test"),
        }
    finally:
        store.close()


def write(url: str, key: dict[str, str], writer: int, shared_item: str, refused: list[int]) -> None:
    """Plans items, receives interactions, and drafts one item all writers share (conflicts: gaps)."""
    marketing = {"Authorization": f"Bearer {key['marketing']}"}
    service = {"Authorization": f"Bearer {key['customer_service']}"}
    with httpx.Client(base_url=url, timeout=30) as client:
        for n in range(COMMANDS_EACH):
            if n % 3 == 0:
                answer = client.post("/items", json=PLAN, headers=marketing)
            elif n % 3 == 1:
                answer = client.post("/interactions", json=comment(f"w{writer}-{n}"), headers=service)
            else:
                answer = client.post(f"/items/{shared_item}/drafts", json=DRAFT, headers=marketing)
            assert answer.status_code in (200, 201, 409), answer.text
            if answer.status_code == 409:
                refused.append(n)


def long_poll(url: str, key: str, done: Callable[[list[int]], bool], seen: list[dict[str, Any]]) -> None:
    after, deadline = 0, time.monotonic() + DEADLINE_SECONDS
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        while not done([item["position"] for item in seen]) and time.monotonic() < deadline:
            page = client.get("/events", params={"after": after, "limit": 7, "timeout": 2})
            assert page.status_code == 200, page.text
            seen += page.json()["items"]
            after = page.json()["next_after"]


def stream(url: str, key: str, done: Callable[[list[int]], bool], seen: list[dict[str, Any]]) -> int:
    """Follows the stream, which the server ends every 0.3 s once caught up; resumes with Last-Event-ID.

    Returns how many connections it took."""
    last: str | None = None
    connections, deadline = 0, time.monotonic() + DEADLINE_SECONDS
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        while not done([item["position"] for item in seen]) and time.monotonic() < deadline:
            headers = {} if last is None else {"Last-Event-ID": last}
            connections += 1
            with client.stream("GET", "/events/stream?close_after=0.3", headers=headers) as response:
                assert response.status_code == 200
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line == "" and "data" in fields:
                        seen.append(json.loads(fields["data"]))
                        last = fields["id"]
                        fields = {}
                    elif line and not line.startswith(":"):
                        name, _, value = line.partition(": ")
                        fields[name] = value
    return connections


def test_every_event_exactly_once_in_order_while_eight_writers_commit(settings: Settings) -> None:
    key = keys(settings)
    with served(settings, embedded_projections="false") as url:
        plan = httpx.post(f"{url}/items", json=PLAN, headers={"Authorization": f"Bearer {key['marketing']}"})
        shared_item = plan.json()["id"]
        finished = threading.Event()  # set once `final` holds every public position, writers done
        final: list[int] = []

        def done(positions: list[int]) -> bool:
            return finished.is_set() and bool(positions) and positions[-1] >= final[-1]

        polled: list[dict[str, Any]] = []
        streamed: list[dict[str, Any]] = []
        connections: list[int] = []
        consumers = [
            threading.Thread(target=long_poll, args=(url, key["auditor"], done, polled)),
            threading.Thread(target=lambda: connections.append(stream(url, key["auditor"], done, streamed))),
        ]
        refused: list[int] = []
        writers = [
            threading.Thread(target=write, args=(url, key, n, shared_item, refused)) for n in range(WRITERS)
        ]
        for thread in consumers + writers:
            thread.start()
        for thread in writers:
            thread.join()
        store = EventStore(settings)
        try:
            log = [n for n in store.notifications() if public_type(n.topic) is not None]
            expected = [feed_item(n, store.mapper) for n in log]
            every_position = [n.id for n in store.notifications()]
        finally:
            store.close()
        final.extend(item["position"] for item in expected)
        finished.set()
        for thread in consumers:
            thread.join(DEADLINE_SECONDS)

    gaps = every_position[-1] - len(every_position)
    assert len(expected) >= WRITERS * COMMANDS_EACH - len(refused), "the writers' events are in the log"
    assert [i["position"] for i in polled] == final, f"long-poll: {len(refused)} conflicts, {gaps} gaps"
    assert [i["position"] for i in streamed] == final, f"stream: {len(refused)} conflicts, {gaps} gaps"
    assert polled == expected
    assert streamed == expected
    assert connections[0] > 1, "the stream was resumed with Last-Event-ID at least once"
