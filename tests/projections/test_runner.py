"""Runners: gaps in the log, read-your-writes, and several runners of one projection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from prometheus_client import REGISTRY

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import ReadModel, RebuildRunning, rebuild
from projections.batches import Builder, SharedReader
from projections.ownership import Ownership
from tests.projections.conftest import SupervisorFactory
from tests.projections.scenario import Scenario, snapshot
from tests.projections.test_tables import live_one_life


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_rolled_back_insert_neither_stalls_nor_skips_a_projection(
    settings: Settings, store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    supervisor = start_supervisor()
    Scenario(store, seed=3).run(items=3)
    before = store.head()
    assert supervisor.wait_for(before, timeout=10)
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url) as conn:
        with conn.transaction(force_rollback=True):  # takes the next notification ids, then rolls back
            conn.execute(
                "INSERT INTO nmworkflow_events (originator_id, originator_version, topic, state) "
                "SELECT gen_random_uuid(), 1, 'nowhere:Nothing', ''::bytea FROM generate_series(1, 3)"
            )
        conn.execute("SELECT nextval(pg_get_serial_sequence('nmworkflow_events', 'notification_id'))")

    item, position = live_one_life(store)

    assert position > before + 15, "the ids after the gap"
    assert supervisor.wait_for(position, timeout=10)
    audited = [r["position"] for r in read_model.audit_trail(cursor=None, limit=500).items]
    assert audited == [p for p in range(1, position + 1) if p <= before or p > before + 4]
    assert read_model.list_items(limit=10).items[0]["item_id"] == item


def test_wait_for_is_true_once_reached_and_false_on_timeout(
    store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    _, position = live_one_life(store)

    started = time.monotonic()
    assert read_model.wait_for(position, timeout=0.3) is False
    assert 0.3 <= time.monotonic() - started < 2

    supervisor = start_supervisor()
    assert supervisor.wait_for(position, timeout=10) is True
    assert read_model.wait_for(position, ["item_status", "audit_trail"], timeout=0) is True
    assert read_model.wait_for(position + 1, ["review_queue"], timeout=0.1) is False
    assert all(p == position for p in read_model.positions().values())


def test_racing_builders_of_one_projection_never_apply_an_event_twice(
    make_settings: Callable[..., Settings], store: EventStore, read_model: ReadModel
) -> None:
    # Two processes running the same projections without the ownership lock (their only
    # guard is the tracking rows): one applies each projection alone, the other all of them in
    # shared batches. They interleave batches; every event lands once.
    names = ("audit_trail", "item_metrics", "review_queue")
    writer = threading.Thread(target=Scenario(store, seed=11).run, kwargs={"items": 40})
    writer.start()
    models = [ReadModel(make_settings(projection_batch_size=5)) for _ in range(2)]
    alone, shared = (
        [Builder(m.projections[name], m.recorders[name], m.db, m.source, batch_size=5) for name in names]
        for m in models
    )
    reader = SharedReader(shared, models[1].db, models[1].source, batch_size=5)
    done, refused, rolled_back = threading.Event(), [], []
    for builder in alone:
        advance = builder.recorder.advance

        def counted(*args: Any, _advance: Callable[..., int | None] = advance) -> int | None:
            moved = _advance(*args)  # the tracking's generation, None where it was elsewhere
            refused.extend([] if moved is not None else [args])
            return moved

        builder.recorder.advance = counted  # type: ignore[method-assign,assignment]

    def race(step: Callable[[], bool]) -> None:
        while not done.is_set() or step():
            time.sleep(0.002)  # the racers would otherwise starve the writer of the GIL

    def shared_step() -> bool:
        try:
            return reader.step(shared)
        except Exception as error:  # rolled back: the other process got there first
            rolled_back.append(type(error).__name__)
            return not done.is_set()

    racers = [threading.Thread(target=race, args=(b.step,)) for b in alone]
    racers.append(threading.Thread(target=race, args=(shared_step,)))
    for racer in racers:
        racer.start()
    writer.join()
    done.set()
    for racer in racers:
        racer.join()
    for builder in alone + shared:
        builder.catch_up()

    assert refused or rolled_back, "the racers never collided: the test proves nothing"
    incremental = snapshot(read_model, list(names))
    assert len(incremental["audit_trail"]) == store.head()
    for name in names:
        rebuild(read_model, name)
    assert snapshot(read_model, list(names)) == incremental
    for model in models:
        model.close()


def test_one_process_works_a_projection_the_others_stand_by_and_take_over(
    store: EventStore, start_supervisor: SupervisorFactory
) -> None:
    first = start_supervisor()
    second = start_supervisor()
    _, position = live_one_life(store)
    assert first.wait_for(position, timeout=10)
    states = {row.name: (row.state) for row in first.status()}
    assert set(states.values()) == {"running"}
    assert {row.state for row in second.status()} == {"standby"}

    first.stop()
    _, position = live_one_life(store, plan_key="plan-2")
    assert second.wait_for(position, timeout=15)
    assert {row.state for row in second.status()} == {"running"}


def test_a_second_rebuild_of_the_same_projection_is_refused(
    settings: Settings, read_model: ReadModel
) -> None:
    other = Ownership(settings)  # stands for another process rebuilding audit_trail
    assert other.acquire("rebuild:audit_trail")
    try:
        with pytest.raises(RebuildRunning):
            rebuild(read_model, "audit_trail")
        rebuild(read_model, "item_status")
    finally:
        other.close()
    rebuild(read_model, "audit_trail")


def test_shared_batches_move_projections_without_events_too_and_a_new_reader_goes_on_from_the_tracking(
    store: EventStore, read_model: ReadModel
) -> None:
    # audit_trail takes every event, so the reads themselves find the end of the log; the
    # others handle few (publication_log) or none (evaluation_status) of these events.
    names = ("audit_trail", "publication_log", "evaluation_status")
    m = read_model

    def reader() -> tuple[SharedReader, list[Builder]]:
        builders = [Builder(m.projections[n], m.recorders[n], m.db, m.source, batch_size=4) for n in names]
        return SharedReader(builders, m.db, m.source, batch_size=4), builders

    _, position = live_one_life(store)
    first, builders = reader()
    assert first.step(builders)  # one batch, then the process stops
    assert m.positions(names) == dict.fromkeys(names, 4)

    second, builders = reader()  # another process: its positions from the tracking rows
    while second.step(builders):
        pass
    assert m.positions(names) == dict.fromkeys(names, position)
    audited = [r["position"] for r in m.audit_trail(cursor=None, limit=500).items]
    assert sorted(audited) == list(range(1, position + 1)), "every event once"
    assert sorted(r["platform"] for r in m.publications(limit=10).items) == ["wechat", "weibo"]
    for name in names:
        assert REGISTRY.get_sample_value("nm_projection_lag_events", {"projection": name}) == 0
    assert not second.step(builders), "at the end of the log: nothing to do"


def test_a_shared_batch_reads_only_the_topics_of_the_projections_behind(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    m, names = read_model, ("audit_trail", "publication_log")
    _, position = live_one_life(store)
    trail, publications = (Builder(m.projections[n], m.recorders[n], m.db, m.source, 4) for n in names)
    trail.catch_up()  # at the head; publication_log, which handles few events, behind
    read, topics_read = m.source.read, []

    def reading(after: int, upto: int | None, topics: Any, limit: int) -> Any:
        topics_read.append(list(topics))
        return read(after, upto, topics, limit)

    monkeypatch.setattr(m.source, "read", reading)
    shared = SharedReader([trail, publications], m.db, m.source, batch_size=4)
    while publications.position < trail.position:
        assert shared.step([trail, publications])
    assert topics_read
    assert topics_read == [sorted(publications.projection.topics)] * len(topics_read)  # not every event
    assert m.positions(names) == dict.fromkeys(names, position)
    assert sorted(r["platform"] for r in m.publications(limit=10).items) == ["wechat", "weibo"]


def test_a_backlog_is_applied_batch_after_batch_with_no_gathering_pause_between(
    store: EventStore, start_supervisor: SupervisorFactory
) -> None:
    """The pause before a pass lets a burst's appends gather; behind the head a full batch already
    waits, so a catch-up (a worker started again, a burst larger than a batch) does not pause."""
    Scenario(store, seed=3).run(items=6)
    head = store.head()
    assert head >= 4 * 10, "several batches of ten"
    supervisor = start_supervisor(projection_gather_seconds=5, projection_batch_size=10)
    assert supervisor.wait_for(head, timeout=4)  # one pause between two batches would take 5 s


def test_at_the_head_the_projections_let_appends_gather_before_the_next_pass(
    store: EventStore, start_supervisor: SupervisorFactory
) -> None:
    """The other side of the test above: a pass that reached the head pauses, so that the appends
    of a burst arrive in one batch (ADR 0030)."""
    supervisor = start_supervisor(projection_gather_seconds=3)
    _, first = live_one_life(store, plan_key="plan-1")
    assert supervisor.wait_for(first, timeout=30)
    _, second = live_one_life(store, plan_key="plan-2")
    assert not supervisor.wait_for(second, timeout=1)  # still gathering after the pass that woke it
    assert supervisor.wait_for(second, timeout=30)
