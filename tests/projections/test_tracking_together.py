"""A shared batch moves all its projections' trackings together (on PostgreSQL in one statement)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import APPLICATION_NAME, EventStore
from projections import ReadModel
from projections.batches import Builder, SharedReader, TrackingMoved
from projections.runner import ProjectionSupervisor
from projections.tracking import advance_together
from tests.projections.test_tables import live_one_life
from tests.support.waiting import DEADLINE

NAMES = ("audit_trail", "item_status", "publication_log")


def _builders(m: ReadModel, batch_size: int = 4) -> list[Builder]:
    return [Builder(m.projections[n], m.recorders[n], m.db, m.source, batch_size) for n in NAMES]


def test_each_tracking_is_answered_for_and_only_those_where_expected_move(read_model: ReadModel) -> None:
    m = read_model
    trail, status, publications = recorders = [m.recorders[n] for n in NAMES]
    with m.db.write({}) as tx, tx.batched():
        moved = advance_together(tx, APPLICATION_NAME, [(r, 0) for r in recorders], 5)
        assert moved() == [1, 1, 1]  # each row's generation where it moved
    with m.db.write({}) as tx, tx.batched():  # the second one expected elsewhere
        moved = advance_together(tx, APPLICATION_NAME, [(trail, 5), (status, 3), (publications, 5)], 9)
        assert moved() == [1, None, 1]
    assert m.positions(NAMES) == {"audit_trail": 9, "item_status": 5, "publication_log": 9}
    with m.db.write({}) as tx, tx.batched():  # never backwards, even from where it is
        moved = advance_together(tx, APPLICATION_NAME, [(status, 5), (trail, 9)], 7)
        assert moved() == [1, None]
    assert m.positions(NAMES) == {"audit_trail": 9, "item_status": 7, "publication_log": 9}
    with m.db.write({}) as tx, tx.batched():
        assert advance_together(tx, APPLICATION_NAME, [], 11)() == []


def test_a_shared_batch_whose_one_tracking_another_process_moved_writes_nothing_then_goes_on(
    store: EventStore, read_model: ReadModel, make_settings: Callable[..., Settings]
) -> None:
    m = read_model
    _, position = live_one_life(store)
    builders = _builders(m)
    # One transaction on both databases (on SQLite a longer batch than its turn is written in
    # parts, and the parts before the one refused stay: test_batch_turns.py).
    reader = SharedReader(builders, m.db, m.source, batch_size=4, turn_seconds=None)
    assert reader.step(builders)
    assert m.positions(NAMES) == dict.fromkeys(NAMES, 4)
    trail_rows = m.audit_trail(cursor=None, limit=500).items

    # Another process (its own read model, as if the ownership lock had been lost) moves
    # item_status alone, one batch further.
    other = ReadModel(make_settings())
    try:
        assert Builder(other.projections["item_status"], other.recorders["item_status"], other.db,
                       other.source, 4).step()  # fmt: skip
    finally:
        other.close()
    moved_alone = m.positions(["item_status"])["item_status"]
    assert moved_alone > 4

    with pytest.raises(TrackingMoved, match=r"^item_status$"):
        reader.step(builders)
    assert m.positions(NAMES) == {"audit_trail": 4, "item_status": moved_alone, "publication_log": 4}
    assert m.audit_trail(cursor=None, limit=500).items == trail_rows, "nothing of the batch written"

    while reader.step(builders):  # the positions read again from the tracking rows
        pass
    assert m.positions(NAMES) == dict.fromkeys(NAMES, position)
    audited = [r["position"] for r in m.audit_trail(cursor=None, limit=500).items]
    assert sorted(audited) == list(range(1, position + 1)), "every event once"
    assert sorted(r["platform"] for r in m.publications(limit=10).items) == ["wechat", "weibo"]


def test_a_shared_batch_that_lost_a_race_on_a_rows_key_is_no_failure(
    store: EventStore,
    read_model: ReadModel,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After a database restart two processes may both run a projection for a moment: the loser's
    rows collide with the winner's (`audit_trail`'s key) before its tracking check tells it lost.
    That is a race, as a moved tracking is: no warning with a traceback, no failure shown."""
    _, position = live_one_life(store)
    supervisor = ProjectionSupervisor(make_settings(), NAMES, read_model=read_model)
    lanes = supervisor._lanes
    assert [lane.builder.position for lane in lanes] == [0, 0, 0]
    other = ReadModel(make_settings())  # the other process, which took audit_trail meanwhile
    try:
        assert Builder(other.projections["audit_trail"], other.recorders["audit_trail"], other.db,
                       other.source, 4).step()  # fmt: skip
    finally:
        other.close()

    with caplog.at_level(logging.INFO, logger="projections"):
        assert supervisor._runner._step(lanes)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "a race, not a failure"
    assert any("applied elsewhere meanwhile" in r.getMessage() for r in caplog.records)
    assert not any(lane.failing for lane in lanes)
    assert read_model.failures.current() == {}
    while supervisor._runner._step(lanes):
        pass
    assert read_model.positions(NAMES) == dict.fromkeys(NAMES, position)
    audited = [r["position"] for r in read_model.audit_trail(cursor=None, limit=500).items]
    assert sorted(audited) == list(range(1, position + 1)), "every event once"


def test_a_position_unreadable_while_the_database_is_down_fails_the_batch_not_the_thread(
    store: EventStore, read_model: ReadModel, make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """After a failed batch a lane's position is read again before the next; with the database
    down that read raised outside the batch's error handling, and the runner's thread died: every
    projection of the process stopped until a restart."""
    _, position = live_one_life(store)
    supervisor = ProjectionSupervisor(make_settings(), NAMES, read_model=read_model)
    lanes = supervisor._lanes
    builder = lanes[0].builder
    builder._position = None  # unknown, as after a batch that failed

    def unreachable(application_name: str) -> int:
        raise OperationalError("couldn't get a connection after 1.00 sec")

    monkeypatch.setattr(builder.recorder, "position", unreachable)
    supervisor._runner._step(lanes)  # no exception: each lane alone, the first one failing
    assert [lane.failing for lane in lanes] == [True, False, False]
    assert "couldn't get a connection" in (lanes[0].last_error or "")
    monkeypatch.undo()  # the database is back
    lanes[0].retry_at = 0
    while supervisor._runner._retry_failing(lanes) or supervisor._runner._step(lanes):
        pass
    assert read_model.positions(NAMES) == dict.fromkeys(NAMES, position)


def test_a_pass_that_fails_unexpectedly_is_tried_again_by_a_thread_that_lives_on(
    store: EventStore, read_model: ReadModel, make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    _, position = live_one_life(store)
    settings = make_settings(projection_poll_interval=0.02)
    supervisor = ProjectionSupervisor(settings, NAMES, read_model=read_model)
    runner = supervisor._runner
    claim, failed = runner._claim, list[bool]()

    def claim_failing_once() -> list[Any]:
        if not failed:
            failed.append(True)
            raise RuntimeError("something nobody foresaw")
        return claim()

    monkeypatch.setattr(runner, "_claim", claim_failing_once)
    with caplog.at_level(logging.ERROR, logger="projections"):
        supervisor.start()
        try:
            assert supervisor.wait_for(position, NAMES, timeout=DEADLINE)
            assert runner.thread.is_alive()
        finally:
            supervisor.stop()
    assert failed
    assert any("A pass over the projections failed" in r.getMessage() for r in caplog.records)
