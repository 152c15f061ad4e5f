"""On SQLite a shared batch longer than its turn is written in parts; on PostgreSQL in one.

SQLite has one writer at a time, the commands' commits included: a batch of many projections'
work gives the turn back between projections (batches.py). Each projection's rows still commit
with its tracking, and a projection that fails leaves the parts before it written.

Here every projection is applied under the turn, as one whose batch cannot be worked out before
it is (ADR 0086: tests/projections/test_planned_batches.py tests the batches that can).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import ReadModel, batches
from projections.batches import Builder, SharedReader
from projections.runner import ProjectionSupervisor
from projections.sql import Tx
from tests.projections.patches import fail_once
from tests.projections.test_tables import live_one_life

NAMES = ("audit_trail", "item_status", "publication_log")
SLOW_SECONDS = 0.01
"""Ten times the turn the tests give a part: the projection that takes it ends its part."""


@pytest.fixture(autouse=True)
def _applied_under_the_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "plans", lambda *_: {})


def _reader(
    m: ReadModel, turn_seconds: float | None, beat: Callable[[], None] = lambda: None
) -> tuple[SharedReader, list[Builder]]:
    builders = [Builder(m.projections[n], m.recorders[n], m.db, m.source, 500) for n in NAMES]
    return SharedReader(builders, m.db, m.source, 500, turn_seconds=turn_seconds, beat=beat), builders


def _slow(m: ReadModel, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    projection = m.projections[name]
    apply = projection.apply

    def slow(tx: Tx, batch: Any) -> None:
        time.sleep(SLOW_SECONDS)
        apply(tx, batch)

    monkeypatch.setattr(projection, "apply", slow)


def _watched(m: ReadModel, name: str, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, int]]:
    """The positions another connection sees each time projection `name` begins to apply a batch."""
    projection, seen = m.projections[name], []
    apply = projection.apply

    def watched(tx: Tx, batch: Any) -> None:
        seen.append(m.positions(NAMES))
        apply(tx, batch)

    monkeypatch.setattr(projection, "apply", watched)
    return seen


@pytest.mark.parametrize("turn_seconds", [SLOW_SECONDS / 10, None], ids=["a turn", "no turn"])
def test_a_long_batch_gives_the_sqlite_turn_back_between_projections(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch, turn_seconds: float | None
) -> None:
    m = read_model
    _, position = live_one_life(store)
    _slow(m, "audit_trail", monkeypatch)
    seen = _watched(m, "item_status", monkeypatch)
    beats: list[float] = []  # each transaction may wait for the lock: the watchdog hears of each
    reader, builders = _reader(m, turn_seconds, lambda: beats.append(time.monotonic()))
    assert reader.step(builders)
    if m.db.is_postgres or turn_seconds is None:  # one transaction: nothing visible before its end
        assert seen == [dict.fromkeys(NAMES, 0)]
        assert len(beats) == 1
    else:  # audit_trail's part committed, the turn given back, before item_status's began
        assert seen == [{"audit_trail": position, "item_status": 0, "publication_log": 0}]
        assert len(beats) >= 2  # one part per projection at most
    assert m.positions(NAMES) == dict.fromkeys(NAMES, position)
    audited = [r["position"] for r in m.audit_trail(cursor=None, limit=500).items]
    assert sorted(audited) == list(range(1, position + 1)), "every event once"
    assert sorted(r["platform"] for r in m.publications(limit=10).items) == ["wechat", "weibo"]


def test_a_projection_failing_after_a_part_leaves_that_part_written_and_applies_once_fixed(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = read_model
    _, position = live_one_life(store)
    _slow(m, "audit_trail", monkeypatch)
    status = m.projections["item_status"]
    apply = status.apply

    def fails(tx: Tx, batch: Any) -> None:
        raise RuntimeError("item_status fails")

    monkeypatch.setattr(status, "apply", fails)
    reader, builders = _reader(m, turn_seconds=SLOW_SECONDS / 10)
    with pytest.raises(RuntimeError, match="item_status fails"):
        reader.step(builders)
    written = position if not m.db.is_postgres else 0  # PostgreSQL: the one transaction rolled back
    assert m.positions(NAMES) == {"audit_trail": written, "item_status": 0, "publication_log": 0}
    assert m.list_items().items == [], "nothing of item_status's part"

    monkeypatch.setattr(status, "apply", apply)
    while reader.step(builders):  # the positions read again from the tracking rows
        pass
    assert m.positions(NAMES) == dict.fromkeys(NAMES, position)
    audited = [r["position"] for r in m.audit_trail(cursor=None, limit=500).items]
    assert sorted(audited) == list(range(1, position + 1)), "every event once"
    assert [r["state"] for r in m.list_items().items] == ["withdrawn"]


def test_a_failure_after_a_committed_part_is_reported_as_a_failure_not_a_race(
    store: EventStore,
    read_model: ReadModel,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The runner tells a race (another process moved a tracking) from a failure by the positions
    # that moved; a part that committed before the failing one moved by itself.
    _, position = live_one_life(store)
    supervisor = ProjectionSupervisor(make_settings(), NAMES, read_model=read_model)
    lanes = supervisor._lanes
    _slow(read_model, lanes[0].name, monkeypatch)  # its part ends after it (SQLite)
    fail_once(lanes[-1].builder.projection, RuntimeError("a transient failure"), monkeypatch)
    with caplog.at_level(logging.INFO, logger="projections"):
        assert supervisor._runner._step(lanes)  # then each alone: the last one succeeds now
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warned] == ["A batch of several projections failed; applying each alone"]
    assert warned[0].exc_info is not None, "with its traceback"
    assert not any("applied elsewhere" in r.getMessage() for r in caplog.records)
    while supervisor._runner._step(lanes):
        pass
    assert read_model.positions(NAMES) == dict.fromkeys(NAMES, position)
    audited = [r["position"] for r in read_model.audit_trail(cursor=None, limit=500).items]
    assert sorted(audited) == list(range(1, position + 1)), "every event once"
