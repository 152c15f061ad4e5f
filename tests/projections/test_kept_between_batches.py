"""quarterly_evaluation's rows kept from one batch to the next (ADR 0063): read no more, and
never trusted where someone else wrote the tables (another process, a rebuild's swap at the very
position kept, a batch that rolled back), on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bench.projections import _one_item_lifecycle
from nm_workflow.application.items import ContentItems
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import APPLICATION_NAME, EventStore
from projections import ReadModel, rebuild
from projections.base import Projection
from projections.batches import Builder, SharedReader
from projections.between import KeptBetweenBatches
from projections.quarterly_changes import KEPT, completed
from projections.quarterly_evaluation import FACTS
from projections.quarterly_state import StaleParts, kept_parts
from projections.sql import Tx
from tests.projections.scenario import Scenario, snapshot

NAME = "quarterly_evaluation"
BOOKKEEPING = ("quarterly_evaluation_item", "quarterly_evaluation_state")


def _builder(model: ReadModel, batch_size: int = 3) -> Builder:
    return Builder(model.projections[NAME], model.recorders[NAME], model.db, model.source, batch_size)


def _equals_its_rebuild(model: ReadModel) -> None:
    incremental = snapshot(model, [NAME])
    rebuild(model, NAME)
    assert snapshot(model, [NAME]) == incremental


def _shape(value: Any) -> Any:
    """`value` with the type of every part: kept rows must be what a read of the database gives."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_shape(item) for item in value])
    return (type(value).__name__, value)


def _packed(row: dict[str, Any]) -> dict[str, Any]:
    state = row["state"]
    return row | {"state": state | {"parts": kept_parts(state["parts"])}}


def test_a_batch_reads_no_facts_or_state_that_the_process_s_last_batch_wrote(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = ContentItems(store, clock=lambda: datetime.now(UTC) + timedelta(days=4))
    builder = _builder(read_model, batch_size=1)
    _one_item_lifecycle(items)
    builder.catch_up()
    reads: list[str] = []
    execute = Tx.execute

    def counted(tx: Tx, sql: str, params: Any = None) -> None:
        reads.extend(table for table in BOOKKEEPING if sql.startswith("SELECT") and "{" + table + "}" in sql)
        execute(tx, sql, params)

    monkeypatch.setattr(Tx, "execute", counted)
    _one_item_lifecycle(items)  # 11 events, applied one a batch
    builder.catch_up()

    # Only the new item's facts (none yet) and the states of the rows it enters first are read:
    # its plan's row of its quarter, department and platform (with their roll-ups) is the first
    # item's, kept.
    assert reads.count("quarterly_evaluation_item") == 1
    assert reads.count("quarterly_evaluation_state") <= 1
    _equals_its_rebuild(read_model)


def test_the_kept_rows_are_the_database_s_rows_value_for_value_and_type_for_type(
    store: EventStore, read_model: ReadModel
) -> None:
    Scenario(store, seed=5).run(items=12, open_at_once=6)
    builder = _builder(read_model)
    builder.catch_up()
    projection = read_model.projections[NAME]
    kept = projection.kept_between_batches
    assert kept is not None
    compared = 0
    with read_model.db.read(projection.live_tables()) as tx:
        for spec in (FACTS, KEPT):
            (column,) = spec.key
            for key, row in kept._rows[spec.table.name].items():
                stored = tx.one(f"SELECT * FROM {{{spec.table.name}}} WHERE {column} = :key", {"key": key[0]})
                assert stored is not None
                read = spec.table.decode(tx.dialect, stored)
                if spec is KEPT:  # the base and its changes (ADR 0081), each multiset as the text it packs to
                    completed(tx, {key[0]: read["state"]}, read["state"]["parameters"])
                    row, read = _packed(row), _packed(read)
                assert _shape(row) == _shape(read)
                compared += 1
    assert compared > 12


@pytest.mark.parametrize("turn_seconds", [None, 0.0], ids=["one transaction", "in parts"])
def test_a_batch_rolled_back_leaves_nothing_kept(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch, turn_seconds: float | None
) -> None:
    # quarterly_evaluation's part of a shared batch is done, then another projection fails it: what
    # it folded into the facts it keeps must go with the transaction, or the events it applies
    # again are folded twice (a revision counted twice, a review appended twice). On SQLite in parts
    # (ADR 0080) its part commits with its tracking before the other fails: what it kept, and the
    # changes it wrote (ADR 0081), are then those of the tables, and applied once.
    Scenario(store, seed=9).run(items=10, open_at_once=5)
    model = read_model
    trail = Builder(
        model.projections["audit_trail"], model.recorders["audit_trail"], model.db, model.source, 3
    )
    builders = [_builder(model), trail]
    reader = SharedReader(builders, model.db, model.source, 3, turn_seconds=turn_seconds)
    for _ in range(5):
        reader.step(builders)
    failing: Projection = model.projections["audit_trail"]
    apply = failing.apply

    def fails(tx: Tx, batch: Any) -> None:
        raise RuntimeError("the batch fails after quarterly_evaluation's part")

    monkeypatch.setattr(failing, "apply", fails)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            reader.step(builders)
    monkeypatch.setattr(failing, "apply", apply)
    while reader.step(builders):
        pass
    _equals_its_rebuild(model)


def _changes(model: ReadModel) -> int:
    with model.db.read(model.projections[NAME].live_tables()) as tx:
        return int(tx.all("SELECT COUNT(*) AS n FROM {quarterly_evaluation_change}")[0]["n"])


def test_a_rebuild_leaves_none_of_the_changes_of_the_states_it_replaces(
    store: EventStore, read_model: ReadModel
) -> None:
    # The rows' changes (ADR 0081) follow the bases the runner wrote; the rebuild writes every
    # state whole: were the old changes left beside the new bases, they would be made again.
    Scenario(store, seed=25).run(items=10, open_at_once=5)
    builder = _builder(read_model)
    builder.catch_up()
    assert _changes(read_model) > 0
    incremental = snapshot(read_model, [NAME])
    rebuild(read_model, NAME)
    assert _changes(read_model) == 0
    assert snapshot(read_model, [NAME]) == incremental
    Scenario(store, seed=26).run(items=4, open_at_once=2)
    builder.catch_up()  # from the rebuilt bases: nothing kept from before the swap is trusted
    assert _changes(read_model) > 0
    _equals_its_rebuild(read_model)


def test_what_another_process_applied_meanwhile_is_read_not_what_was_kept(
    store: EventStore, make_settings: Callable[..., Settings]
) -> None:
    Scenario(store, seed=13).run(items=12, open_at_once=6)
    ours, theirs = ReadModel(make_settings(), store), ReadModel(make_settings(), store)
    try:
        mine, other = _builder(ours), _builder(theirs)
        for turn in range(12):  # a few batches each in turn, on the same members
            (mine if turn % 3 else other).step()
        mine.catch_up()
        _equals_its_rebuild(ours)
    finally:
        ours.close()
        theirs.close()


def _alone(builder: Builder) -> None:
    builder.catch_up()


def _shared(builder: Builder) -> None:
    """As the runner moves it: on SQLite its batches worked out before the write turn (ADR 0086)."""
    reader = SharedReader([builder], builder.db, builder.source, builder.batch_size)
    while reader.step([builder]):
        pass


@pytest.mark.parametrize("catch_up", [_alone, _shared], ids=["alone", "shared"])
def test_a_rebuild_elsewhere_at_the_very_position_kept_is_read_not_what_was_kept(
    store: EventStore, make_settings: Callable[..., Settings], catch_up: Callable[[Builder], None]
) -> None:
    # Another process with another company time zone rebuilds the figures up to the head, where
    # this process's batches left the tracking and what they keep: from then on the tables are
    # that process's, computed with its zone, which this process must see (and refuse to mix with
    # its own zone's parts), not carry on from its own memory as if nothing happened.
    Scenario(store, seed=17).run(items=8, open_at_once=4, finish=False)
    ours = ReadModel(make_settings(), store)
    theirs = ReadModel(make_settings(company_time_zone="Pacific/Kiritimati"), store)
    try:
        mine = _builder(ours)
        catch_up(mine)
        assert rebuild(theirs, NAME) == mine.position == store.head()
        assert ours.recorders[NAME].position(APPLICATION_NAME) == mine.position
        Scenario(store, seed=18).run(items=1, open_at_once=1)
        with pytest.raises(StaleParts):
            catch_up(mine)
    finally:
        ours.close()
        theirs.close()


def test_a_tracking_table_of_an_earlier_release_gets_its_generation_and_a_rebuild_starts_a_new_one(
    store: EventStore, make_settings: Callable[..., Settings]
) -> None:
    model = ReadModel(make_settings(), store)
    try:
        with model.db.write({}) as tx:
            tx.execute(f"ALTER TABLE {NAME}_tracking DROP COLUMN generation")
    finally:
        model.close()
    Scenario(store, seed=21).run(items=3)
    model = ReadModel(make_settings(), store)
    try:
        builder = _builder(model)
        builder.catch_up()

        def generation() -> int:
            with model.db.read({}) as tx:
                row = tx.one(
                    f"SELECT generation FROM {NAME}_tracking WHERE application_name = :a",
                    {"a": APPLICATION_NAME},
                )
            assert row is not None
            return int(row["generation"])

        assert generation() == 1
        rebuild(model, NAME)
        assert generation() == 2
        Scenario(store, seed=22).run(items=2)
        builder.catch_up()
        _equals_its_rebuild(model)
    finally:
        model.close()


def test_each_table_keeps_its_most_recently_used_rows_up_to_its_capacity() -> None:
    kept = KeptBetweenBatches({FACTS: 2, KEPT: 1})
    live = cast(Tx, SimpleNamespace(tables={name: name for name in BOOKKEEPING}))
    kept.begin(0, lambda: 1)
    assert kept.usable(live)
    for member in ("a", "b", "c"):
        kept.put(FACTS, (member,), {"item_id": member, "facts": {}})
    kept.put(KEPT, ("k1",), {"row_key": "k1", "state": {}})
    kept.put(KEPT, ("k2",), {"row_key": "k2", "state": {}})
    kept.committed(5)
    assert list(kept._rows["quarterly_evaluation_item"]) == [("b",), ("c",)]
    assert list(kept._rows["quarterly_evaluation_state"]) == [("k2",)]
    kept.begin(5, lambda: 2)  # another generation at the same position: nothing kept is trusted
    assert kept.usable(live)
    assert not any(kept._rows.values())
    shadow = cast(Tx, SimpleNamespace(tables={name: name + "__rebuild" for name in BOOKKEEPING}))
    assert not kept.usable(shadow)
