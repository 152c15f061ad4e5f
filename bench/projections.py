"""How fast each projection rebuilds, against reading the same log in the same run.

Baseline: reading and decoding every event of the log in batches (what any
projection must do at least). Measured: `rebuild` of each projection, which
reads the events it handles and writes its rows and tracking. Rates are events
of the whole log per second, so a projection that handles few event types (the
publication log) can beat the baseline.

At this size a rebuild lasts about a tenth of a second: one pause of a shared machine (a
run queue of other processes, a slow flush to disk) halves a single measurement. So the
baseline and the rebuilds are measured `ROUNDS` times, in turn (the read, then each
rebuild, then again), and each case's median is kept: the read under the same
conditions as the rebuilds. On PostgreSQL the database is vacuumed and analysed once the
log is written, as autovacuum would have done long before a user's rebuild; else its
worker, woken by the log's writes, may run during the first measurements.

    python -m bench.projections [--items 200] [--database-url postgresql://...]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

import psycopg

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
from projections.rebuild import heap_frozen

MIA = Actor("mia", frozenset({Role.MARKETING}), "marketing")
REVIEWERS = {s: Actor(f"{s}-1", frozenset({s.reviewer_role}), "marketing") for s in SEED_CHAIN}
ANALYST = Actor("dan", frozenset({Role.DATA_ANALYST}), "data")
PLAN = {**bodies.PLAN, "campaign": "bench"}
ROUNDS = 3
"""Times each case is measured, the cases in turn; its median is reported."""


def _one_item_lifecycle(items: ContentItems) -> None:
    """Plan -> draft -> three approvals -> publish -> three observations: 11 events."""
    for _ in item_life(items):
        pass


def item_life(items: ContentItems) -> Iterator[None]:
    """`_one_item_lifecycle`, a command at each step: lives stepped in turn interleave, as
    concurrent clients' commands do."""
    item = items.plan(CommandContext(MIA), PLAN).aggregate_id
    yield
    items.draft(
        CommandContext(MIA), item, {"title": "T", "body": "B", "asset_links": [], "source_notes": "s"}
    )
    yield
    items.request_review(CommandContext(MIA), item, None)
    yield
    for stage, reviewer in REVIEWERS.items():
        view = items.approve(
            CommandContext(reviewer), item, stage, {"revision": 1, "content_hash": None}
        ).view
        yield
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
    yield
    for day in range(3):
        counters = {"impressions": 100 * (day + 1), "likes": 5 * day, "clicks": 10 * day}
        observation = {
            "platform": "wechat",
            "observed_at": published_at + timedelta(days=day + 1),
            "counters": counters,
        }
        items.record_metrics(CommandContext(ANALYST), item, observation)
        yield


def _read_everything(source: EventSource, head: int, batch: int) -> None:
    after = 0
    with heap_frozen():  # as a rebuild reads: the same collections of the same garbage
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
        _settle(settings)
        cases: dict[str, Callable[[], object]] = {
            "baseline: read and decode the log": partial(
                _read_everything, EventSource(store), head, settings.projection_batch_size
            ),
        }
        cases.update({f"rebuild {name}": partial(rebuild, read_model, name) for name in NAMES})
        return {case: head / seconds for case, seconds in medians(cases, ROUNDS).items()}
    finally:
        read_model.close()
        store.close()


def medians(cases: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of each case, over `rounds` rounds that each run every case once, in order."""
    seconds: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(rounds):
        for case, operation in cases.items():
            seconds[case].append(_seconds(operation))
    return {case: statistics.median(times) for case, times in seconds.items()}


def _settle(settings: Settings) -> None:
    """PostgreSQL: vacuum and analyse the database just written, as autovacuum would have."""
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE)")


def _seconds(operation: Callable[[], object]) -> float:
    started = time.perf_counter()
    operation()
    return max(time.perf_counter() - started, 1e-9)


if __name__ == "__main__":
    main(__doc__, ("items", 200, "items through their whole life (11 events each)"), run, "events/s")
