"""How much the write path costs on top of the bare event store.

Baseline: the eventsourcing library saving one new event of a minimal aggregate
on the same database, in the same run. Measured against it:

- `application`: one command through ContentItems (authorize, load, decide,
  save with metadata), with and without an Idempotency-Key;
- `http`: the same command over the HTTP API (in-process ASGI client).

Machines here are noisy, so only the ratios are meant to be compared across runs.

    python -m bench.commands [--n 300] [--database-url postgresql://...]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from uuid import uuid4

from eventsourcing.domain import event
from fastapi.testclient import TestClient

from bench.bodies import DRAFT, PLAN
from bench.report import main
from nm_workflow.application.commands import CommandContext
from nm_workflow.application.items import ContentItems
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.metadata import WorkflowAggregate
from nm_workflow.domain.roles import Role
from nm_workflow.interface.http.app import create_app

MIA = Actor("mia", frozenset({Role.MARKETING}), "marketing")


class Counter(WorkflowAggregate):
    """A minimal aggregate of the service's kind (its events carry `meta`)."""

    @event("Created")
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


def per_second(operation: Callable[[], object], n: int) -> float:
    """Median throughput of five rounds of n/5 operations."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(max(1, n // 5)):
            operation()
        rounds.append(max(1, n // 5) / (time.perf_counter() - started))
    return statistics.median(rounds)


def saving_one_event(save: Callable[[Counter], object]) -> Callable[[], object]:
    """An operation saving one new event of a fresh minimal aggregate per call with `save`
    (the library's `EventStore.save`, or `EventStore.record` as commands save)."""
    counter = Counter()
    save(counter)

    def save_one() -> object:
        counter.increment()
        return save(counter)

    return save_one


def _application(items: ContentItems, idempotent: bool) -> Callable[[], object]:
    """Plan an item, then draft it four times: a realistic item length (5-10 events)."""
    sequence = iter(range(10**9))
    item = items.plan(CommandContext(MIA), PLAN).aggregate_id

    def command() -> object:
        nonlocal item
        key = str(uuid4()) if idempotent else None
        if next(sequence) % 5 == 0:
            item = items.plan(CommandContext(MIA, idempotency_key=key), PLAN).aggregate_id
            return item
        return items.draft(CommandContext(MIA, idempotency_key=key), item, DRAFT)

    return command


def _http(client: TestClient, token: str) -> Callable[[], object]:
    """The same sequence as `_application`, over HTTP."""
    headers = {"Authorization": f"Bearer {token}"}
    sequence = iter(range(10**9))
    item = ""

    def command() -> object:
        nonlocal item
        if next(sequence) % 5 == 0:
            response = client.post("/items", json=PLAN, headers=headers)
            item = response.json()["id"]
        else:
            response = client.post(f"/items/{item}/drafts", json=DRAFT, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response

    return command


def run(settings: Settings, n: int) -> dict[str, float]:
    """Operations per second of each case; 'baseline' first."""
    results: dict[str, float] = {}
    app = create_app(settings)
    with TestClient(app) as client:
        store: EventStore = app.state.store
        items = ContentItems(store)
        token = app.state.keys.create("mia", [Role.MARKETING], "marketing", issued_by="bench")
        results["baseline: library save"] = per_second(saving_one_event(store.save), n)
        results["application command"] = per_second(_application(items, idempotent=False), n)
        results["application command + Idempotency-Key"] = per_second(_application(items, idempotent=True), n)
        results["HTTP command"] = per_second(_http(client, token), n)
    return results


if __name__ == "__main__":
    main(__doc__, ("n", 300, "operations per case"), run, "ops/s")
