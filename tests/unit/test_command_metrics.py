"""Each command through the write path moves the counter of its outcome, and only that one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.errors import PermissionDenied, VersionMismatch
from nm_workflow.application.items import ContentItems
from nm_workflow.application.metrics import COMMANDS, child
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from tests.integration.test_department_scope import PLAN

MIA = Actor("mia", frozenset({Role.MARKETING}), "marketing")
DRAFT = {"title": "T", "body": "B", "asset_links": [], "source_notes": "s"}
SERIES = (
    ("nm_commands_total", "plan", "applied"),
    ("nm_commands_total", "plan", "replayed"),
    ("nm_commands_total", "draft", "conflict"),
    ("nm_commands_total", "draft", "refused"),
    ("nm_commands_total", "draft", "applied"),
    ("nm_idempotent_replays_total", "plan", None),
    ("nm_conflicts_total", "draft", None),
)


def counts() -> dict[tuple[str, str, str | None], float]:
    def value(name: str, command: str, outcome: str | None) -> float:
        labels = {"command": command} | ({"outcome": outcome} if outcome else {})
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return {series: value(*series) for series in SERIES}


def moved(before: dict[Any, float]) -> dict[Any, float]:
    return {series: count - before[series] for series, count in counts().items() if count != before[series]}


@pytest.fixture
def items(tmp_path: Path) -> Iterator[ContentItems]:
    store = EventStore(Settings(data_dir=tmp_path, database_url=None))
    yield ContentItems(store)
    store.close()


def test_applied_replayed_conflict_and_refused_commands_each_move_their_counters(items: ContentItems) -> None:
    before = counts()
    item = items.plan(CommandContext(MIA, idempotency_key="k-1"), PLAN).aggregate_id
    assert moved(before) == {("nm_commands_total", "plan", "applied"): 1}

    before = counts()
    assert items.plan(CommandContext(MIA, idempotency_key="k-1"), PLAN).replayed
    assert moved(before) == {
        ("nm_commands_total", "plan", "replayed"): 1,
        ("nm_idempotent_replays_total", "plan", None): 1,
    }

    before = counts()
    with pytest.raises(VersionMismatch):
        items.draft(CommandContext(MIA, expected_version=7), item, DRAFT)
    assert moved(before) == {
        ("nm_commands_total", "draft", "conflict"): 1,
        ("nm_conflicts_total", "draft", None): 1,
    }

    before = counts()
    analyst = Actor("dan", frozenset({Role.DATA_ANALYST}), "marketing")
    with pytest.raises(PermissionDenied):
        items.draft(CommandContext(analyst), item, DRAFT)
    assert moved(before) == {("nm_commands_total", "draft", "refused"): 1}

    before = counts()
    items.draft(CommandContext(MIA, expected_version=1), item, DRAFT)
    assert moved(before) == {("nm_commands_total", "draft", "applied"): 1}


def test_a_kept_child_is_the_metric_s_own_series() -> None:
    # The children kept by `child` must be the ones /metrics reports, not copies beside them.
    kept = child(COMMANDS, "a-command-only-this-test-runs", "applied")
    assert kept is COMMANDS.labels("a-command-only-this-test-runs", "applied")
    assert child(COMMANDS, "a-command-only-this-test-runs", "applied") is kept
    kept.inc()
    sample = ("nm_commands_total", {"command": "a-command-only-this-test-runs", "outcome": "applied"})
    assert REGISTRY.get_sample_value(*sample) == 1.0
