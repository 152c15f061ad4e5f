"""Reads that wait for projections (Wait-For-Position) hold no server thread, and are bounded.

Against a real `nm-workflow serve` process whose projections do not run (the worker is
stopped), so that every wait lasts its whole Wait-Timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2

from nm_workflow.application.settings import Settings
from tests.e2e.api import PLAN
from tests.e2e.live import marketing_key, served

PENDING = 100


async def _waits_keep_no_thread(url: str, key: str) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {key}"}
    limits = httpx2.Limits(max_connections=PENDING + 10)
    async with (
        httpx2.AsyncClient(base_url=url, headers=auth, limits=limits, timeout=60) as waiting,
        httpx2.AsyncClient(base_url=url, headers=auth, timeout=60) as other,
    ):
        planned = await other.post("/items", json=PLAN)
        assert planned.status_code == 201, planned.text
        wait = {"Wait-For-Position": planned.headers["Log-Position"], "Wait-Timeout": "5"}
        waits = [
            asyncio.create_task(waiting.get("/items", params={"limit": 1}, headers=wait))
            for _ in range(PENDING)
        ]
        while (await other.get("/health")).json()["waiting_reads"] < PENDING:
            assert not any(task.done() for task in waits), "a wait ended before all had started"
            await asyncio.sleep(0.05)

        # Every other request is served while all the waits are pending ...
        healths = [await other.get("/health") for _ in range(10)]
        listed = [await other.get("/items", params={"limit": 1}) for _ in range(10)]
        # ... and a wait beyond the bound is answered at once, stale.
        excess = await other.get("/items", params={"limit": 1}, headers=wait)
        still_pending = sum(not task.done() for task in waits)
        during = (await other.get("/health")).json()["waiting_reads"]

        answers = await asyncio.gather(*waits)
        after = (await other.get("/health")).json()["waiting_reads"]
    return {
        "others": healths + listed,
        "excess": excess,
        "still_pending": still_pending,
        "during": during,
        "answers": answers,
        "after": after,
    }


def test_pending_waits_take_no_capacity_from_other_requests(settings: Settings) -> None:
    key = marketing_key(settings)
    with served(settings, "--no-projections", max_waiting_reads=str(PENDING)) as url:
        seen = asyncio.run(_waits_keep_no_thread(url, key))

    assert all(response.status_code == 200 for response in seen["others"])
    assert seen["still_pending"] == PENDING, "other requests were held up behind the waits"
    assert seen["during"] == PENDING
    assert seen["excess"].status_code == 200
    assert seen["excess"].headers["Projection-Stale"] == "true"
    assert seen["excess"].headers["Projection-Wait"] == "not-admitted"
    for answer in seen["answers"]:
        assert answer.status_code == 200
        assert answer.headers["Projection-Stale"] == "true"  # the projections never ran
        assert answer.headers["Projection-Wait"] == "timed-out"
        assert int(answer.headers["Projection-Position"]) < int(answer.request.headers["Wait-For-Position"])
    assert seen["after"] == 0
