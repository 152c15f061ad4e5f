"""Bulk ingestion of interactions: `POST /interactions:batch` next to single `POST /interactions`.

Baseline: single POSTs, one comment each, in the same run. Measured against it:
batches of 100 and of 500 new comments, and a batch of 500 already known
(a crawler re-sending what it saw before). Cost below 1.00x means faster.

    python -m bench.interactions [--n 1000] [--database-url postgresql://...]
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from bench.report import main
from nm_workflow.application.settings import Settings
from nm_workflow.domain.roles import Role
from nm_workflow.interface.http.app import create_app

_ids = itertools.count()


def comments(count: int) -> Iterator[dict[str, Any]]:
    for _ in range(count):
        number = next(_ids)
        yield {
            "platform": ("weibo", "douyin", "wechat")[number % 3], "platform_id": f"bench-{number}",
            "kind": "comment", "text": f"第{number}条 评论 the delivery was late again 😡",
            "author_handle": f"@user{number}", "received_at": "2026-03-02T09:00:00Z",
        }  # fmt: skip


def _single(client: TestClient, headers: dict[str, str], n: int) -> float:
    started = time.perf_counter()
    for body in comments(n):
        assert client.post("/interactions", json=body, headers=headers).status_code == 201
    return n / (time.perf_counter() - started)


def _batches(client: TestClient, headers: dict[str, str], n: int, size: int, known: bool = False) -> float:
    batches = [list(comments(size)) for _ in range(max(1, n // size))]
    if known:
        for batch in batches:
            client.post("/interactions:batch", json={"items": batch}, headers=headers)
    started = time.perf_counter()
    for batch in batches:
        response = client.post("/interactions:batch", json={"items": batch}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["refused"] == 0
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


def run(settings: Settings, n: int) -> dict[str, float]:
    """Interactions per second of each case; 'baseline' (single POSTs) first."""
    # Projections are left out: they follow in their own threads and would only add noise.
    app = create_app(settings.model_copy(update={"embedded_projections": False}))
    with TestClient(app) as client:
        token = app.state.keys.create("crawler", [Role.SERVICE], "it", issued_by="bench")
        headers = {"Authorization": f"Bearer {token}"}
        return {
            "baseline: single POST /interactions": _single(client, headers, max(5, n // 5)),
            "batches of 100": _batches(client, headers, n, 100),
            "batches of 500": _batches(client, headers, n, 500),
            "batches of 500, all already known": _batches(client, headers, n, 500, known=True),
        }


if __name__ == "__main__":
    main(__doc__, ("n", 1000, "interactions per batch case"), run, "items/s")
