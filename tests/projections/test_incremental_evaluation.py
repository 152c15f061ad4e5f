"""quarterly_evaluation kept incrementally (ADR 0038) equals the rows computed from scratch.

Random facts of items, interactions, channel accounts and feedback replace one another in
random batches, whole or one fact at a time (as most events change one): members move between
quarters, departments and platforms, get published, withdrawn, reviewed, answered, escalated,
closed. After every batch the projection's rows equal
`figure_rows.rows` over the same facts, exactly, and a row is kept for no more than the rows
that exist. The facts are set directly (the folding of events is the same either way and is
covered by the scenario tests); what is under test is moving members' parts in and out.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

import projections.quarterly_evaluation as module
import projections.quarterly_state as quarterly_state
from nm_workflow.application.figure_rows import rows
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.periods import quarter
from nm_workflow.domain.roles import Stage
from projections.base import Recorded
from projections.database import Database
from projections.quarterly_evaluation import QuarterlyEvaluation
from projections.quarterly_state import StaleParts
from projections.sql import dumps

TABLES = {name: name for name in QuarterlyEvaluation.tables}
QUARTERS = ("2026Q1", "2026Q2", "2026Q3", "2026Q4", "2027Q1")  # every quarter the facts below reach
DEPARTMENTS = ("marketing", "产品部", "sales")
PLATFORMS = ("wechat", "weibo", "douyin")
# Mostly Q2 to Q4, a few days of the quarters either side.
START, END = datetime(2026, 3, 25, tzinfo=UTC), datetime(2027, 1, 3, tzinfo=UTC)


def _moment(rng: random.Random, after: datetime | None = None) -> datetime:
    """Any microsecond from START (or `after`) to the end of Q4: durations are arbitrary floats."""
    first = after or START
    return first + timedelta(seconds=rng.uniform(0, (END - first).total_seconds()))


def _iso(rng: random.Random, after: datetime | None = None) -> str:
    return _moment(rng, after).isoformat()


def _item(rng: random.Random, item_id: str) -> dict[str, Any]:
    planned = _moment(rng)
    platforms = rng.sample(PLATFORMS, rng.randint(1, 3))
    published = [p for p in platforms if rng.random() < 0.6]
    publish_on = (planned + timedelta(days=rng.randint(0, 60))).date()
    counters = ("impressions", "reach", "likes", "clicks", "conversions")
    reviews = [
        [rng.choice(list(Stage)).value, (since := planned + timedelta(hours=rng.uniform(0, 90))).isoformat(),
         (since + timedelta(hours=_hours(rng, 90))).isoformat(),
         rng.choice(["approved", "changes_requested"]),
         rng.choice([None, 24, 48])]
        for _ in range(rng.randint(0, 3))
    ]  # fmt: skip
    return {
        "item_id": item_id, "department": rng.choice(DEPARTMENTS), "platforms": platforms,
        "planned_at": planned.isoformat(),
        "planned_publish_date": rng.choice([None, publish_on.isoformat()]),
        "closed": rng.choice([None, None, "withdrawn", "cancelled"]),
        "publications": {p: _iso(rng, planned) for p in published},
        "metrics": {p: {c: [_iso(rng, planned), rng.randint(0, 500)] for c in counters if rng.random() < 0.7}
                    for p in platforms},  # also of platforms not (yet) published on
        "chain": ["editor", "department_head", "legal"], "stage_hours": {}, "waiting": None,
        "reviews": reviews,
        "changes": {s.value: rng.randint(1, 2) for s in Stage if rng.random() < 0.3},
        "revisions": (revisions := rng.randint(0, 3)), "findings": rng.randint(0, 2) if revisions else 0,
        "first_pass": rng.choice([None, True, False]),
    }  # fmt: skip


def _hours(rng: random.Random, most: float) -> float:
    """Up to `most` hours, now and then exactly none: a decision or answer in the same instant."""
    return 0.0 if rng.random() < 0.2 else rng.uniform(0, most)


def _maybe(rng: random.Random, start: datetime, hours: float) -> str | None:
    """None, or a moment up to `hours` after `start`."""
    return rng.choice([None, (start + timedelta(hours=_hours(rng, hours))).isoformat()])


def _interaction(rng: random.Random) -> dict[str, Any]:
    received = _moment(rng)
    negative = rng.random() < 0.5
    return {
        "aggregate": "interaction", "platform": rng.choice(PLATFORMS), "department": rng.choice(DEPARTMENTS),
        "received_at": received.isoformat(), "response_due": (received + timedelta(hours=24)).isoformat(),
        "negative_due": (received + timedelta(hours=4)).isoformat() if negative else None,
        "negative": negative,
        "first_response_at": _maybe(rng, received, 48),
        "negative_handled_at": _maybe(rng, received, 8),
        "escalations": rng.randint(0, 2),
    }  # fmt: skip


def _account(rng: random.Random) -> dict[str, Any]:
    followers = {_iso(rng): rng.randint(0, 10_000) for _ in range(rng.randint(0, 4))}
    return {"aggregate": "channel_account", "platform": rng.choice(PLATFORMS),
            "department": rng.choice(DEPARTMENTS), "followers": followers}  # fmt: skip


def _feedback(rng: random.Random) -> dict[str, Any]:
    submitted = _moment(rng)
    return {"aggregate": "feedback", "department": rng.choice(DEPARTMENTS),
            "submitted_at": submitted.isoformat(),
            "closed_at": rng.choice([None, _iso(rng, submitted)])}  # fmt: skip


def _facts(rng: random.Random, member: str) -> dict[str, Any]:
    kind = member.split("-")[0]
    if kind == "item":
        return _item(rng, member)
    return {"interaction": _interaction, "account": _account, "feedback": _feedback}[kind](rng)


def _set_facts(facts: dict[str, Any], event: Any) -> str:
    """Stands in for facts.fold: the event carries its member's new facts whole."""
    facts[event.originator_id] = event.facts
    return str(event.originator_id)


@pytest.fixture
def projection(
    store: EventStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> tuple[Database, QuarterlyEvaluation]:
    monkeypatch.setattr(module, "fold", _set_facts)
    db, built = Database(store), QuarterlyEvaluation(settings)
    with db.write(TABLES) as tx:
        for statement in built.ddl(db.dialect, TABLES, views=False):
            tx.raw.execute(statement)
    return db, built


def _stored(db: Database) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """The rows of each quarter (without the quarter), and how many row states are kept."""
    with db.read(TABLES) as tx:
        found = [
            module.ROWS.decode(tx.dialect, r)
            for r in tx.all("SELECT * FROM {quarterly_evaluation} ORDER BY quarter, department, platform")
        ]
        states = tx.all("SELECT COUNT(*) AS n FROM {quarterly_evaluation_state}")[0]["n"]
    assert {r["quarter"] for r in found} <= set(QUARTERS)
    by_quarter = {q: [{k: v for k, v in r.items() if k != "quarter"} for r in found if r["quarter"] == q]
                  for q in QUARTERS}  # fmt: skip
    return by_quarter, int(states)


def _run(db: Database, built: QuarterlyEvaluation, seed: int, members: int, changes: int) -> None:
    rng = random.Random(seed)
    pool = [f"{kind}-{n}" for n in range(members) for kind in ("item", "interaction", "account", "feedback")]
    facts: dict[str, Any] = {}
    position = 0
    while position < changes:
        batch = random_batch(rng, pool, facts, position, most=6)  # a member may change twice in one
        position += len(batch)
        _check(db, built, batch, facts, (seed, position))


def random_batch(
    rng: random.Random, pool: list[str], facts: dict[str, Any], position: int, most: int
) -> list[Recorded]:
    """1 to `most` events after `position`, each giving a member of `pool` new facts (often one
    fact changed of those in `facts`, as an event changes it), `facts` updated in place."""
    batch = []
    for _ in range(rng.randint(1, most)):
        position += 1
        member = rng.choice(pool)
        fresh = _facts(rng, member)
        if member in facts and rng.random() < 0.6:
            changed = rng.choice(sorted(fresh))
            fresh = facts[member] | {changed: fresh[changed]}
        facts[member] = fresh
        batch.append(Recorded(position, "test", SimpleNamespace(originator_id=member, facts=dict(fresh))))
    return batch


def _changed(member: str, position: int, facts: dict[str, Any]) -> Recorded:
    """The event that gives `member` its new `facts` whole (folded by `_set_facts`)."""
    return Recorded(position, "test", SimpleNamespace(originator_id=member, facts=dict(facts)))


def _check(db: Database, built: QuarterlyEvaluation, batch: list[Recorded], facts: dict[str, Any],
           case: object) -> None:  # fmt: skip
    """Apply the batch; the rows must then be those computed from scratch over `facts`."""
    with db.write(TABLES) as tx:
        built.apply(tx, batch)
    stored, states = _stored(db)
    expected = {q: rows(list(facts.values()), quarter(q), built.parameters) for q in QUARTERS}
    assert stored == expected, case
    assert states == sum(len(r) for r in expected.values())  # nothing kept for a row that is gone


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rows_kept_by_moving_members_parts_equal_the_rows_computed_from_scratch(
    projection: tuple[Database, QuarterlyEvaluation], seed: int
) -> None:
    _run(*projection, seed=seed, members=4, changes=120)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_each_fact_of_an_item_changed_alone_moves_what_the_figures_read_of_it(
    projection: tuple[Database, QuarterlyEvaluation],
) -> None:
    # A change of an item's facts recomputes only the figures that read what changed
    # (figure_inputs.READS): one that read it undeclared would keep its old part here.
    db, built = projection
    rng = random.Random(11)
    facts: dict[str, Any] = {}
    position = 0
    for key in ["item_id", *sorted(_item(rng, "item-0"))] * 3:
        batch = []
        for member in (f"item-{n}" for n in range(6)):
            fresh = _item(rng, member)
            facts[member] = fresh if key == "item_id" else facts[member] | {key: fresh[key]}
            position += 1
            event = SimpleNamespace(originator_id=member, facts=dict(facts[member]))
            batch.append(Recorded(position, "test", event))
        _check(db, built, batch, facts, (key, position))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_member_of_one_platform_has_its_parts_computed_once_for_its_platform_s_row_and_every_platform_s(
    projection: tuple[Database, QuarterlyEvaluation], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its cell in the row of its platform and in the row of every platform is the same
    # (figure_rows.cell): its parts before and after a change are computed once each.
    db, built = projection
    item = _item(random.Random(7), "item-0") | {"platforms": ["wechat"], "publications": {}, "metrics": {}}
    facts = {"item-0": item}
    _check(db, built, [_changed("item-0", 1, item)], facts, 1)
    computed: list[tuple[str, str]] = []
    member_parts = module.member_parts  # type: ignore[attr-defined]

    def counted(*args: Any) -> Any:
        computed.append(args[3:5])  # (department, platform)
        return member_parts(*args)

    monkeypatch.setattr(module, "member_parts", counted)
    decided = ["editor", item["planned_at"], item["planned_at"], "approved", None]
    facts["item-0"] = changed = item | {"reviews": [*item["reviews"], decided]}
    _check(db, built, [_changed("item-0", 2, changed)], facts, 2)
    assert computed == [(item["department"], "wechat")] * 2  # before and after


def test_the_same_on_both_databases_with_float_parts_read_back_exactly(
    projection: tuple[Database, QuarterlyEvaluation],
) -> None:
    # A multiset value that did not come back as the same float would not be found to be
    # taken out again (StaleParts), and a median of it would differ from the scratch one.
    _run(*projection, seed=7, members=3, changes=40)


def _apply(db: Database, built: QuarterlyEvaluation, position: int, member: str, facts: Any) -> None:
    with db.write(TABLES) as tx:
        built.apply(tx, [Recorded(position, "test", SimpleNamespace(originator_id=member, facts=facts))])


def test_parts_kept_with_other_settings_stop_the_projection_until_a_rebuild(
    projection: tuple[Database, QuarterlyEvaluation], settings: Settings
) -> None:
    db, built = projection
    first = _item(random.Random(5), "item-0")
    _apply(db, built, 1, "item-0", first)
    kept = _stored(db)
    # Another item in the same rows, projected with another review_stage_hours.
    other = QuarterlyEvaluation(settings.model_copy(update={"review_stage_hours": 7}))
    with pytest.raises(StaleParts, match="rebuild"):
        _apply(db, other, 2, "item-1", first | {"item_id": "item-1"})
    assert _stored(db) == kept  # nothing of the failed batch is written


def test_rows_an_earlier_release_left_without_parts_stop_the_projection_until_a_rebuild(
    projection: tuple[Database, QuarterlyEvaluation],
) -> None:
    db, built = projection
    first = _item(random.Random(5), "item-0")
    _apply(db, built, 1, "item-0", first)
    with db.write(TABLES) as tx:  # as the upgrade finds them: rows, and no states
        tx.execute("DELETE FROM {quarterly_evaluation_state}")
    with pytest.raises(StaleParts, match="earlier release"):
        _apply(db, built, 2, "item-1", first | {"item_id": "item-1"})


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_state_is_kept_as_the_very_text_the_projections_json_encoder_gives(
    projection: tuple[Database, QuarterlyEvaluation], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large state's text is composed, its packed multisets put in unscanned (ADR 0056): any
    # other text than `dumps` gives would make rows kept live differ from rows rebuilt.
    monkeypatch.setattr(quarterly_state, "_COMPOSED_FROM", 0)  # every state composed, however small
    db, built = projection
    _run(db, built, seed=4, members=4, changes=60)
    with db.read(TABLES) as tx:
        texts = [row["state"] for row in tx.all("SELECT state FROM {quarterly_evaluation_state}")]
    states = [json.loads(text) for text in texts]
    assert any(type(part) is str and part for state in states for part in state["parts"].values())
    assert [dumps(state) for state in states] == texts
