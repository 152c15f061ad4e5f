"""quarterly_evaluation's states as a base and the changes since (ADR 0081), on both databases.

A batch whose states the process keeps writes only what it moved; a row's state is written
whole again once its changes are as long as it. Whatever the mix of changes, compactions and
restarts (a process that reads the bases and their changes), the rows equal the rows computed
from scratch, and a batch's writes follow what it changed, not the size of the row.
"""

from __future__ import annotations

import random
import struct
from types import SimpleNamespace
from typing import Any

import pytest

import projections.quarterly_changes as changes
import projections.quarterly_evaluation as module
from nm_workflow.application.figure_rows import MULTISET, rows
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.periods import quarter
from projections.base import Recorded
from projections.database import Database
from projections.quarterly_evaluation import QuarterlyEvaluation
from projections.quarterly_state import Move
from projections.rows import kept_for_the_batch
from projections.schema import insert_many
from projections.sql import JSONText, dumps
from tests.projections.test_incremental_evaluation import (
    QUARTERS,
    TABLES,
    _facts,
    _item,
    _set_facts,
    _stored,
    random_batch,
)


@pytest.fixture
def database(store: EventStore, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setattr(module, "fold", _set_facts)
    db = Database(store)
    with db.write(TABLES) as tx:
        for statement in QuarterlyEvaluation(settings).ddl(db.dialect, TABLES, views=False):
            tx.raw.execute(statement)
    return db


def _as_the_runner(db: Database, built: QuarterlyEvaluation, batch: list[Recorded], start: int) -> None:
    """Apply `batch` as the runner does: the process's kept states trusted from `start` on."""
    kept = built.kept_between_batches
    assert kept is not None
    kept.begin(start, lambda: 1)
    with db.write(TABLES) as tx:
        built.apply(tx, batch)
    kept.committed(batch[-1].position)


def _bookkeeping(db: Database) -> tuple[dict[str, str], list[tuple[str, int, int]]]:
    """The states' texts by row, and (row, seq, characters) of every change."""
    with db.read(TABLES) as tx:
        states = {
            r["row_key"]: r["state"]
            for r in tx.all("SELECT row_key, state FROM {quarterly_evaluation_state}")
        }
        logged = [
            (r["row_key"], int(r["seq"]), len(dumps(changes.CHANGES.decode(tx.dialect, r)["moves"])))
            for r in tx.all("SELECT * FROM {quarterly_evaluation_change} ORDER BY row_key, seq")
        ]
    return {key: text if isinstance(text, str) else dumps(text) for key, text in states.items()}, logged


@pytest.mark.parametrize("seed", [1, 2])
def test_rows_kept_by_changes_compactions_and_restarts_equal_the_rows_computed_from_scratch(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # Compacted after a few hundred characters: each row goes through both ways often.
    monkeypatch.setattr(changes, "COMPACT_AT_LEAST", 600)
    monkeypatch.setattr(changes, "CHARACTERS_PER_MEMBER", 10)
    rng = random.Random(seed)
    built = QuarterlyEvaluation(settings)
    pool = [f"{kind}-{n}" for n in range(4) for kind in ("item", "interaction", "account", "feedback")]
    facts: dict[str, Any] = {}
    position, restarts, logged_most, compacted = 0, 0, 0, 0
    while position < 150:
        if rng.random() < 0.15:  # another process from here on: the bases and their changes read
            built, restarts = QuarterlyEvaluation(settings), restarts + 1
        start, batch = position, random_batch(rng, pool, facts, position, most=5)
        position += len(batch)
        before = len(_bookkeeping(database)[1])
        _as_the_runner(database, built, batch, start)
        stored, states = _stored(database)
        expected = {q: rows(list(facts.values()), quarter(q), built.parameters) for q in QUARTERS}
        assert stored == expected, (seed, position)
        assert states == sum(len(r) for r in expected.values())  # nothing kept for a row that is gone
        now = len(_bookkeeping(database)[1])
        logged_most, compacted = max(logged_most, now), compacted + (now < before)
    assert restarts > 2  # every way taken, many times
    assert logged_most > 10
    assert compacted > 2


def test_a_batch_of_a_large_row_writes_its_change_not_the_row(database: Database, settings: Settings) -> None:
    built = QuarterlyEvaluation(settings)
    item = _item(random.Random(3), "item-0") | {"platforms": ["wechat"], "department": "marketing"}
    members = 300  # one quarter's items of one department and platform
    batch = [
        Recorded(
            n + 1, "test", SimpleNamespace(originator_id=f"item-{n}", facts=item | {"item_id": f"item-{n}"})
        )
        for n in range(members)
    ]
    _as_the_runner(database, built, batch, 0)
    states, logged = _bookkeeping(database)
    assert logged == []  # new rows are written whole
    largest = max(len(text) for text in states.values())
    assert largest > 10_000

    position = members
    for n in range(5):  # one member changes a batch, as one command at a time does
        decided = ["editor", item["planned_at"], item["planned_at"], "approved", None]
        changed = item | {"item_id": f"item-{n}", "reviews": [*item["reviews"], decided]}
        position += 1
        _as_the_runner(
            database,
            built,
            [Recorded(position, "test", SimpleNamespace(originator_id=f"item-{n}", facts=changed))],
            position - 1,
        )
    after, logged = _bookkeeping(database)
    assert after == states  # no state written again
    assert len(logged) == 5 * len(states)  # a change per batch of each row it moved
    assert max(size for _, _, size in logged) < largest / 20

    # Another process reads the bases and their changes: the same rows as from scratch.
    restarted = QuarterlyEvaluation(settings)
    position += 1
    moved_again = item | {"item_id": "item-7", "closed": "withdrawn"}
    _as_the_runner(
        database,
        restarted,
        [Recorded(position, "test", SimpleNamespace(originator_id="item-7", facts=moved_again))],
        position - 1,
    )
    facts = {f"item-{n}": item | {"item_id": f"item-{n}"} for n in range(members)}
    facts |= {
        f"item-{n}": item | {"item_id": f"item-{n}", "reviews": [*item["reviews"], decided]} for n in range(5)
    }
    facts["item-7"] = moved_again
    stored, _ = _stored(database)
    assert stored == {q: rows(list(facts.values()), quarter(q), built.parameters) for q in QUARTERS}


def test_a_row_s_changes_are_compacted_once_they_are_as_long_as_its_state(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "COMPACT_AT_LEAST", 1000)
    built = QuarterlyEvaluation(settings)
    item = _item(random.Random(3), "item-0") | {"platforms": ["wechat"], "department": "marketing"}
    batch = [
        Recorded(
            n + 1, "test", SimpleNamespace(originator_id=f"item-{n}", facts=item | {"item_id": f"item-{n}"})
        )
        for n in range(4)
    ]
    _as_the_runner(database, built, batch, 0)
    position, longest, compactions = 4, 0, 0
    before: dict[str, int] = {}
    for n in range(40):
        position += 1
        facts = item | {"item_id": f"item-{n % 4}", "closed": ["withdrawn", None][n // 4 % 2]}
        _as_the_runner(database, built, [_event(position, f"item-{n % 4}", facts)], position - 1)
        sizes: dict[str, int] = {}
        for key, _, size in _bookkeeping(database)[1]:
            sizes[key] = sizes.get(key, 0) + size
        longest = max([longest, *sizes.values()])
        compactions += sum(sizes.get(key, 0) < size for key, size in before.items())
        before = sizes
    assert 0 < longest < changes.compact_at(4)  # never as long as the threshold
    assert compactions >= 4  # compacted, and then changed again


def _event(position: int, member: str, facts: dict[str, Any]) -> Recorded:
    return Recorded(position, "test", SimpleNamespace(originator_id=member, facts=facts))


def _as_an_earlier_release_rebuilt(db: Database, settings: Settings, facts: dict[str, Any]) -> None:
    """The tables as a rebuild by an earlier release (rolled back to) leaves them: its own tables
    made anew from `facts`, each state as that release writes it ({"members", "parameters",
    "parts"}, nothing else); `quarterly_evaluation_change`, a table it does not know, as it was."""
    with db.write(TABLES) as tx:
        for table in ("quarterly_evaluation", "quarterly_evaluation_item", "quarterly_evaluation_state"):
            tx.execute(f"DELETE FROM {{{table}}}")
    every = [_event(n + 1, member, dict(found)) for n, (member, found) in enumerate(sorted(facts.items()))]
    stale = len(_bookkeeping(db)[1])
    with db.write(TABLES) as tx:
        QuarterlyEvaluation(settings).apply(tx, every)  # no state kept: each written whole
        written = [
            changes.STATES.decode(tx.dialect, r) for r in tx.all("SELECT * FROM {quarterly_evaluation_state}")
        ]
        tx.execute("DELETE FROM {quarterly_evaluation_state}")
        earlier = [{k: r["state"][k] for k in ("members", "parameters", "parts")} for r in written]
        insert_many(tx, changes.STATES, [r | {"state": e} for r, e in zip(written, earlier, strict=True)])
    assert len(_bookkeeping(db)[1]) == stale  # the changes this release wrote before, left as they were


@pytest.mark.parametrize("seed", [1, 2])
def test_changes_left_from_before_a_rollback_are_not_made_again_after_upgrading_again(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # This release writes changes; it is rolled back, the earlier release moves members (rows come
    # and go) and is rebuilt as docs/operators.md says; then this release runs again. The changes
    # written before the rollback were made to bases the rebuild replaced: made again, they would
    # count their moves twice, or collide with the changes of a row made anew.
    monkeypatch.setattr(changes, "COMPACT_AT_LEAST", 100_000)  # never compacted: every change stays
    rng = random.Random(seed)
    pool = [f"{kind}-{n}" for n in range(3) for kind in ("item", "interaction", "account", "feedback")]
    facts: dict[str, Any] = {}
    position = 0
    for member in pool:
        facts[member] = _facts(rng, member)
        position += 1
    built = QuarterlyEvaluation(settings)
    _as_the_runner(database, built, [_event(n + 1, m, dict(facts[m])) for n, m in enumerate(pool)], 0)
    for _ in range(15):
        start = position
        batch = random_batch(rng, pool, facts, position, most=5)
        position += len(batch)
        _as_the_runner(database, built, batch, start)
    assert len(_bookkeeping(database)[1]) > 20

    for _ in range(10):  # the earlier release's batches: members move, rows come and go
        random_batch(rng, pool, facts, 0, most=5)
    _as_an_earlier_release_rebuilt(database, settings, facts)
    stored, _ = _stored(database)
    assert stored == {q: rows(list(facts.values()), quarter(q), built.parameters) for q in QUARTERS}

    built = QuarterlyEvaluation(settings)  # this release again
    for n in range(15):
        start = position
        batch = random_batch(rng, pool, facts, position, most=5)
        position += len(batch)
        _as_the_runner(database, built, batch, start)
        stored, states = _stored(database)
        expected = {q: rows(list(facts.values()), quarter(q), built.parameters) for q in QUARTERS}
        assert stored == expected, (seed, n)
        assert states == sum(len(r) for r in expected.values())


def test_a_row_an_earlier_release_deleted_and_this_one_makes_anew_takes_none_of_its_old_changes(
    database: Database, settings: Settings
) -> None:
    # A row whose members all left it while an earlier release ran: that release deleted its state,
    # not its changes (it knows no such table). Made anew by this release, the row's first change
    # would take a `seq` its old changes hold.
    item = _item(random.Random(3), "item-0") | {"platforms": ["wechat"], "department": "marketing"}
    built = QuarterlyEvaluation(settings)
    _as_the_runner(database, built, [_event(1, "item-0", item)], 0)
    for position in range(2, 5):  # its rows' changes, seq 0, 1, 2
        revised = item | {"revisions": position, "findings": 1}
        _as_the_runner(database, built, [_event(position, "item-0", revised)], position - 1)
    assert any('"marketing"' in key for key, _, _ in _bookkeeping(database)[1])

    _as_an_earlier_release_rebuilt(database, settings, {"item-0": item | {"department": "sales"}})

    built = QuarterlyEvaluation(settings)  # this release again: the item comes back, and changes
    facts = {"item-0": item | {"revisions": 7, "findings": 2}}
    _as_the_runner(database, built, [_event(5, "item-0", item)], 4)
    _as_the_runner(database, built, [_event(6, "item-0", facts["item-0"])], 5)
    stored, _ = _stored(database)
    assert stored == {q: rows(list(facts.values()), quarter(q), built.parameters) for q in QUARTERS}
    restarted = QuarterlyEvaluation(settings)  # the bases and changes as another process reads them
    facts = {"item-0": item | {"revisions": 8, "findings": 2}}
    _as_the_runner(database, restarted, [_event(7, "item-0", facts["item-0"])], 6)
    stored, _ = _stored(database)
    assert stored == {q: rows(list(facts.values()), quarter(q), built.parameters) for q in QUARTERS}


def test_a_change_s_values_come_back_as_the_very_doubles_and_counts_written(database: Database) -> None:
    # PostgreSQL's jsonb keeps numbers as decimals: a zero's sign, a double's last bits or an
    # infinity would not come back from JSON numbers. A change's multisets are packed text.
    multiset = next(name for name, is_multiset in MULTISET.items() if is_multiset)
    counts = next(name for name, is_multiset in MULTISET.items() if not is_multiset)
    values = [-1e308, -0.0, 0.0, 5e-324, 0.1 + 0.2, 1 / 3, 1.7976931348623157e308, float("inf")]
    moves: list[Move] = [
        ({multiset: values[:3], counts: [2**62, -(2**62)]}, None),
        (None, {multiset: values}),
    ]
    with database.write(TABLES) as tx, kept_for_the_batch(tx, (), []):
        changes.LOGGED.add(tx, {"row_key": "k", "seq": 0, "moves": JSONText(dumps(changes._logged(moves)))})
    with database.read(TABLES) as tx:
        (read,) = changes.LOGGED.rows(tx, ("k",))
    back = changes._unlogged(read["moves"])
    assert [[_bits(part) for part in move] for move in back] == [
        [_bits(part) for part in move] for move in moves
    ]


def _bits(parts: dict[str, Any] | None) -> Any:
    """Each value with its type and the bytes of a double: -0.0 is not 0.0 here."""
    if parts is None:
        return None
    return {name: [(type(v).__name__, struct.pack("<d", v) if type(v) is float else v) for v in part]
            for name, part in parts.items()}  # fmt: skip
