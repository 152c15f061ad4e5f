"""The feed's promise under load: a real server on PostgreSQL, 8 concurrent writers, and a long-poll
consumer and an SSE consumer (reconnecting with Last-Event-ID) that each see every public event
exactly once, in position order, including when rolled-back inserts leave gaps in the positions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from nm_workflow.application.event_feed import feed_item, public_type
from nm_workflow.application.keys import KeyService
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from tests.e2e.api import DRAFT, PLAN
from tests.e2e.live import live_server, once_back, proxied, served
from tests.e2e.test_interactions import comment
from tests.support.figures import Figures

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
    with httpx2.Client(base_url=url, timeout=30) as client:
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


def long_poll(url: str, key: str, done: Callable[[list[int]], bool], seen: list[dict[str, Any]]) -> int:
    """Pages through the feed, waiting up to 2 s each time nothing is new; returns the requests made."""
    after, requests, deadline = 0, 0, time.monotonic() + DEADLINE_SECONDS
    with httpx2.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        while not done([item["position"] for item in seen]) and time.monotonic() < deadline:
            page = client.get("/events", params={"after": after, "limit": 7, "timeout": 2})
            requests += 1
            assert page.status_code == 200, page.text
            seen += page.json()["items"]
            after = page.json()["next_after"]
    return requests


def stream(
    url: str,
    key: str,
    done: Callable[[list[int]], bool],
    seen: list[dict[str, Any]],
    close_after: float = 0.3,
) -> int:
    """Follows the stream, which the server ends every `close_after` seconds once caught up; resumes
    with Last-Event-ID, also after a refusal (503 while the database is away). Returns the connections."""
    last: str | None = None
    connections, deadline = 0, time.monotonic() + DEADLINE_SECONDS
    with httpx2.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        while not done([item["position"] for item in seen]) and time.monotonic() < deadline:
            headers = {} if last is None else {"Last-Event-ID": last}
            connections += 1
            with client.stream(
                "GET", f"/events/stream?close_after={close_after}", headers=headers
            ) as response:
                if response.status_code != 200:
                    time.sleep(0.2)
                    continue
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line == "" and "data" in fields:
                        seen.append(json.loads(fields["data"]))
                        last, fields = fields["id"], {}
                    elif line.startswith(":") and done([item["position"] for item in seen]):
                        break  # a heartbeat, and nothing more to wait for
                    elif line and not line.startswith(":"):
                        name, _, value = line.partition(": ")
                        fields[name] = value
    return connections


def the_log(settings: Settings) -> tuple[list[dict[str, Any]], list[int]]:
    """Read directly from the store: every public event as the feed gives it, and every position."""
    store = EventStore(settings)
    try:
        every = list(store.notifications())
        return [feed_item(n, store.mapper) for n in every if public_type(n.topic) is not None], [
            n.id for n in every
        ]
    finally:
        store.close()


def test_every_event_exactly_once_in_order_while_eight_writers_commit(
    settings: Settings, figures: Figures
) -> None:
    key = keys(settings)
    with served(settings, embedded_projections="false") as url:
        plan = httpx2.post(f"{url}/items", json=PLAN, headers={"Authorization": f"Bearer {key['marketing']}"})
        shared_item = plan.json()["id"]
        finished = threading.Event()  # set once `final` holds every public position, writers done
        final: list[int] = []

        def done(positions: list[int]) -> bool:
            return finished.is_set() and bool(positions) and positions[-1] >= final[-1]

        polled: list[dict[str, Any]] = []
        streamed: list[dict[str, Any]] = []
        connections: list[int] = []
        requests: list[int] = []
        consumers = [
            threading.Thread(target=lambda: requests.append(long_poll(url, key["auditor"], done, polled))),
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
        expected, every_position = the_log(settings)
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
    figures(commands_sent=WRITERS * COMMANDS_EACH, conflicts=len(refused), public_events=len(final),
            gaps=gaps, long_poll_requests=requests[0], stream_connections=connections[0],
            skipped=0, duplicated=0)  # fmt: skip


def test_a_stream_carries_on_after_the_database_was_unreachable(
    make_settings: Callable[..., Settings], figures: Figures
) -> None:
    real = make_settings()
    proxy, through_proxy = proxied(make_settings, feed_heartbeat_seconds=0.2)
    key = keys(real)
    auditor = {"Authorization": f"Bearer {key['auditor']}"}
    marketing = {"Authorization": f"Bearer {key['marketing']}"}
    finished, final, streamed = threading.Event(), list[int](), list[dict[str, Any]]()

    def done(positions: list[int]) -> bool:
        return finished.is_set() and bool(positions) and positions[-1] >= final[-1]

    with live_server(through_proxy) as base, httpx2.Client(base_url=base, timeout=30) as client:
        first = client.post("/items", json=PLAN, headers=marketing).json()["id"]
        connections: list[int] = []
        consumer = threading.Thread(
            target=lambda: connections.append(stream(base, key["auditor"], done, streamed, 60))
        )
        consumer.start()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while first not in {item["aggregate_id"] for item in streamed}:  # the stream is open and caught up
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proxy.cut()
        refused = client.get("/events", headers=auditor)
        assert refused.status_code == 503
        assert refused.json()["type"] == "/problems/store-unavailable"
        proxy.start()
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        planned = [once_back(lambda: client.post("/items", json=PLAN, headers=marketing)) for _ in range(3)]
        assert [answer.status_code for answer in planned] == [201] * 3, [answer.text for answer in planned]
        later = [answer.json()["id"] for answer in planned]
        expected, _ = the_log(real)
        final.extend(item["position"] for item in expected)
        finished.set()
        consumer.join(DEADLINE_SECONDS)

    assert streamed == expected
    assert [item["aggregate_id"] for item in streamed[-3:]] == later
    figures(faults_injected=1, answered_503=1, answered_500=0, events_after_recovery=3,
            stream_connections=connections[0], skipped=0, duplicated=0)  # fmt: skip
