"""How fast each projection rebuilds, against reading the same log in the same run.

Baseline: reading and decoding every event of the log in batches (what any
projection must do at least). Measured: `rebuild` of each projection, which
reads the events it handles and writes its rows and tracking. Rates are events
of the whole log per second, so a projection that handles few event types (the
publication log) can beat the baseline.

    python -m bench.projections [--items 200] [--database-url postgresql://...]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from bench import bodies
from bench.report import main
from nm_workflow.application.commands import CommandContext
from nm_workflow.application.items import ContentItems
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import SEED_CHAIN, Role
from projections import NAMES, ReadModel, rebuild
from projections.readside import EventSource

MIA = Actor("mia", frozenset({Role.MARKETING}), "marketing")
REVIEWERS = {s: Actor(f"{s}-1", frozenset({s.reviewer_role}), "marketing") for s in SEED_CHAIN}
ANALYST = Actor("dan", frozenset({Role.DATA_ANALYST}), "data")
PLAN = {**bodies.PLAN, "campaign": "bench"}


def _one_item_lifecycle(items: ContentItems) -> None:
    """Plan -> draft -> three approvals -> publish -> three observations: 11 events."""
    item = items.plan(CommandContext(MIA), PLAN).aggregate_id
    items.draft(
        CommandContext(MIA), item, {"title": "T", "body": "B", "asset_links": [], "source_notes": "s"}
    )
    items.request_review(CommandContext(MIA), item, None)
    for stage, reviewer in REVIEWERS.items():
        view = items.approve(
            CommandContext(reviewer), item, stage, {"revision": 1, "content_hash": None}
        ).view
    published_at = datetime.now(UTC)  # after the approvals
    items.publish(
        CommandContext(MIA),
        item,
        {
            "platform": "wechat",
            "published_at": published_at,
            "external_id": "x",
            "url": None,
            "revision": 1,
            "content_hash": view["current_revision"]["content_hash"],
        },
    )
    for day in range(3):
        counters = {"impressions": 100 * (day + 1), "likes": 5 * day, "clicks": 10 * day}
        observation = {
            "platform": "wechat",
            "observed_at": published_at + timedelta(days=day + 1),
            "counters": counters,
        }
        items.record_metrics(CommandContext(ANALYST), item, observation)


def _read_everything(source: EventSource, head: int, batch: int) -> None:
    after = 0
    while after < head:
        events = source.read(after, head, (), batch)
        after = events[-1].position if events else head


def run(settings: Settings, items: int) -> dict[str, float]:
    """Events per second of each case; 'baseline' first."""
    store = EventStore(settings)
    read_model = ReadModel(settings, store)
    try:
        # Its clock runs ahead: the observations are dated up to three days after the publication.
        service = ContentItems(store, clock=lambda: datetime.now(UTC) + timedelta(days=4))
        for _ in range(items):
            _one_item_lifecycle(service)
        head = store.head()
        results = {
            "baseline: read and decode the log": head
            / _seconds(lambda: _read_everything(EventSource(store), head, settings.projection_batch_size))
        }
        for name in NAMES:
            results[f"rebuild {name}"] = head / _seconds(partial(rebuild, read_model, name))
        return results
    finally:
        read_model.close()
        store.close()


def _seconds(operation: Callable[[], object]) -> float:
    started = time.perf_counter()
    operation()
    return max(time.perf_counter() - started, 1e-9)


if __name__ == "__main__":
    main(__doc__, ("items", 200, "items through their whole life (11 events each)"), run, "events/s")
