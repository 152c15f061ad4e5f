"""A rebuild pauses Python's cycle collector for each shadow batch only (projections/rebuild.py):
on again after the batch, also when it fails, and never turned on when it was off. For the whole
rebuild, the objects alive at its start are set aside from the collector (frozen), and given back
at its end, also when it fails; objects frozen before by the process stay frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest

from nm_workflow.application.store import EventStore
from projections import ReadModel, rebuild
from tests.projections.scenario import Scenario

REBUILD = import_module("projections.rebuild")
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # in-process logic


@pytest.fixture
def collecting_during(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Whether the collector was on in each batch applied, shadow or swap; on again afterwards."""
    seen: list[bool] = []
    applied = REBUILD._Rebuild._apply_batch

    def apply_batch(self: Any, tx: Any, head: int, size: int, *stored: Any) -> None:
        seen.append(gc.isenabled())
        applied(self, tx, head, size, *stored)

    monkeypatch.setattr(REBUILD._Rebuild, "_apply_batch", apply_batch)
    yield seen
    gc.enable()


def test_the_collector_is_off_in_shadow_batches_and_on_after(
    store: EventStore, read_model: ReadModel, collecting_during: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    Scenario(store, seed=31).run(items=3, open_at_once=2)
    rebuild(read_model, "audit_trail")
    assert collecting_during == [False]  # the one shadow batch; a quiet log leaves the swap none
    assert gc.isenabled()

    def fail(*_: Any) -> None:
        raise RuntimeError("a handler failed")

    monkeypatch.setattr(read_model.projections["audit_trail"], "handle", fail)
    with pytest.raises(RuntimeError):
        rebuild(read_model, "audit_trail")
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off(
    store: EventStore, read_model: ReadModel, collecting_during: list[bool]
) -> None:
    Scenario(store, seed=32).run(items=2, open_at_once=2)
    gc.disable()
    rebuild(read_model, "audit_trail")
    assert collecting_during == [False]
    assert not gc.isenabled()


class Node:
    me: Node | None = None


def frozen_during(read_model: ReadModel, name: str) -> list[int]:
    """How many objects were frozen at each progress report of a rebuild of `name`."""
    seen: list[int] = []
    rebuild(read_model, name, lambda _done, _total: seen.append(gc.get_freeze_count()))
    return seen


def test_the_heap_is_frozen_during_a_rebuild_and_given_back_after(
    store: EventStore, read_model: ReadModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    Scenario(store, seed=33).run(items=2, open_at_once=2)
    assert gc.get_freeze_count() == 0
    alive = len(gc.get_objects())
    seen = frozen_during(read_model, "item_status")
    assert seen  # the shadow batch and the end each report
    assert all(frozen >= alive // 2 for frozen in seen)  # the process's objects, not a handful
    assert gc.get_freeze_count() == 0
    cycle = Node()
    cycle.me = cycle  # alive when the failing rebuild starts, garbage once it ends
    gone = weakref.ref(cycle)

    def fail(*_: Any) -> None:
        raise RuntimeError("a handler failed")

    monkeypatch.setattr(read_model.projections["item_status"], "handle", fail)
    with pytest.raises(RuntimeError):
        rebuild(read_model, "item_status")
    assert gc.get_freeze_count() == 0
    del cycle
    gc.collect()
    assert gone() is None  # given back to the collector, which collects it


def test_objects_frozen_before_a_rebuild_stay_frozen(store: EventStore, read_model: ReadModel) -> None:
    Scenario(store, seed=34).run(items=2, open_at_once=2)
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        assert frozen_during(read_model, "item_status")[-1] == before  # nothing more frozen
        assert gc.get_freeze_count() == before  # and nothing given back
    finally:
        gc.unfreeze()
