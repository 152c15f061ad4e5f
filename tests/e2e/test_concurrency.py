"""Concurrent conflicting commands over real HTTP: exactly one wins, nothing is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx2

from nm_workflow.application.settings import Settings
from tests.e2e.api import DRAFT, PLAN
from tests.e2e.live import live_server, marketing_key
from tests.support.figures import Figures

THREADS = 20


def _all_at_once(calls: list[Callable[[], httpx2.Response]]) -> list[httpx2.Response]:
    barrier = threading.Barrier(len(calls))

    def fire(call: Callable[[], httpx2.Response]) -> httpx2.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(fire, calls))


def test_twenty_writers_with_the_same_if_match_one_wins(
    make_settings: Callable[..., Settings], figures: Figures
) -> None:
    settings = make_settings(db_pool_size=THREADS)
    headers = {"Authorization": f"Bearer {marketing_key(settings)}"}
    with live_server(settings) as url, httpx2.Client(base_url=url, headers=headers, timeout=30) as client:
        item = client.post("/items", json=PLAN).json()["id"]
        etag = client.get(f"/items/{item}").headers["ETag"]

        def draft(n: int) -> Callable[[], httpx2.Response]:
            body = {**DRAFT, "title": f"draft {n}"}
            return lambda: client.post(f"/items/{item}/drafts", json=body, headers={"If-Match": etag})

        responses = _all_at_once([draft(n) for n in range(THREADS)])
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(200) == 1, statuses
        assert set(statuses) <= {200, 409, 412}, [r.text for r in responses if r.status_code >= 500]
        for loser in (r for r in responses if r.status_code != 200):
            assert loser.headers["content-type"] == "application/problem+json"
        after = client.get(f"/items/{item}")
        assert after.headers["ETag"] == '"2"'
        winner = next(r for r in responses if r.status_code == 200).json()
        assert after.json()["current_revision"]["title"] == winner["current_revision"]["title"]
        assert len(client.get(f"/items/{item}/history").json()) == 2
        conflicts = len(responses) - statuses.count(200)
        figures(commands_sent=len(responses), acknowledged=1, conflicts=conflicts, events_written=1, lost=0)


def test_concurrent_writers_without_if_match_never_lose_a_write(
    make_settings: Callable[..., Settings], figures: Figures
) -> None:
    settings = make_settings(db_pool_size=10)
    headers = {"Authorization": f"Bearer {marketing_key(settings)}"}
    with live_server(settings) as url, httpx2.Client(base_url=url, headers=headers, timeout=30) as client:
        item = client.post("/items", json=PLAN).json()["id"]
        responses = _all_at_once(
            [
                partial(client.post, f"/items/{item}/drafts", json={**DRAFT, "title": f"t{n}"})
                for n in range(10)
            ]
        )
        won = [r for r in responses if r.status_code == 200]
        assert all(r.status_code in (200, 409) for r in responses)
        history = client.get(f"/items/{item}/history").json()
        assert len(history) == 1 + len(won)
        assert sorted(e["data"]["title"] for e in history[1:]) == sorted(
            r.json()["current_revision"]["title"] for r in won
        )
        conflicts = len(responses) - len(won)
        figures(commands_sent=len(responses), acknowledged=len(won), conflicts=conflicts, lost=0)
