"""`quarterly_evaluation`: the figures of Ch. 4.4 and 6.2 per quarter x department x platform.

One row per (quarter, department, platform) in which anything counts, plus
roll-ups: `platform = '*'` (every platform of the department), `department =
'*'` (every department on the platform) and both (the whole quarter). Roll-ups
count each item once, so they are not sums of the rows (an item planned for
two platforms is one item). The figures and the rules of which quarter an item
counts in are nm_workflow.application.figures and figure_rows; quarters follow the
company_time_zone setting (a change of it needs a rebuild).

Bookkeeping (not part of the documented contract): `quarterly_evaluation_item`
holds the facts (JSON) of each item, interaction, channel account and feedback
by aggregate id (column `item_id`); `quarterly_evaluation_state` each row's
merged figure parts (nm_workflow.application.figure_parts) and how many
members count in it. A batch folds its events into the facts of the members it
touches; for every row a member counted in before or counts in after, its old
parts are taken out of the row's state and its new ones merged in (only those
of the figures its change can touch and that differ: ADR 0038, addendum), and
the row's figures are computed from the state (ADR 0038). A batch reads no
other member's facts, and decodes only the multisets (medians, percentiles)
it changes: its Python work follows the members it changes, not the size of
the quarter. The facts and states a batch wrote are kept for the process's next
batch, which reads them only when someone else may have written since
(projections/between.py, ADR 0063); while they are kept, a batch writes a row's
changes rather than its whole state (`quarterly_evaluation_change`,
projections/quarterly_changes.py, ADR 0081).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from nm_workflow.application.errors import FiguresStale
from nm_workflow.application.facts import TOPICS, fold
from nm_workflow.application.figure_inputs import figures_changed
from nm_workflow.application.figure_parts import Packed
from nm_workflow.application.figure_rows import ALL, Scope, cells_touched, member_parts
from nm_workflow.application.figures import FIGURES, Figure, Parameters, Parts, values_of
from nm_workflow.application.ids import id_text
from nm_workflow.application.settings import Settings
from nm_workflow.application.store_errors import translated_errors
from nm_workflow.domain.periods import quarter, quarter_of
from projections.base import Projection, Recorded
from projections.between import KeptBetweenBatches
from projections.quarterly_changes import CHANGES, KEPT, STATES, completed, deleted, recorded
from projections.quarterly_state import Move, StaleParts, moved
from projections.rows import Keyed, kept_for_the_batch, prefetch
from projections.schema import Table, col
from projections.sql import Tx

if TYPE_CHECKING:  # the read side imports the registry, which imports this module
    from projections.readside import ReadSide

Key = tuple[str, str, str]
_FIGURE_COLUMNS = tuple(col(f.name, "bigint" if f.type == "int" else "real", null=True) for f in FIGURES)
ROWS = Table(
    "quarterly_evaluation",
    (col("quarter", "text"), col("department", "text"), col("platform", "text"), *_FIGURE_COLUMNS),
    primary_key=("quarter", "department", "platform"),
)
ITEMS = Table("quarterly_evaluation_item", (col("item_id", "text"), col("facts", "json")), ("item_id",))
# Kept for a batch (projections/rows.py) and written in bulk: the facts read by item id before
# the first event, the states of the rows the batch changes read in one statement after it;
# the rows (whose first key column is not an aggregate's id) are put and deleted, and read (all of
# a quarter's at once) only to tell a new row from one an earlier release left without a state.
# The facts and states the last batch wrote are kept between batches too (`apply`).
FACTS = Keyed(ITEMS, ("item_id",))
CELLS = Keyed(ROWS, ("quarter", "department", "platform"))
KEPT_MEMBERS, KEPT_ROWS = 1024, 256
"""The members' facts (about 4 kB each in memory for an item's whole life) and the rows' states
(about 80 bytes per member of the row) kept between batches at most (projections/between.py):
more than the members and rows that batches come back to while items go through their lives."""


class QuarterlyEvaluation(Projection):
    name = "quarterly_evaluation"
    schema = (ROWS, ITEMS, STATES, CHANGES)

    @property
    def topics(self) -> tuple[str, ...]:
        return TOPICS

    @cached_property
    def parameters(self) -> Parameters:
        return Parameters(self.settings.company_time_zone, self.settings.review_stage_hours)

    @cached_property
    def _kept_parameters(self) -> dict[str, Any]:
        """The parameters as every state records them."""
        return self.parameters.as_dict()

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.kept_between_batches = self._kept = KeptBetweenBatches({FACTS: KEPT_MEMBERS, KEPT: KEPT_ROWS})

    def apply(self, tx: Tx, batch: Sequence[Recorded]) -> None:
        ids = sorted({id_text(r.event.originator_id) for r in batch})
        kept = self._kept if self._kept.usable(tx) else None
        if kept is not None:
            kept.seed(tx, FACTS, [(i,) for i in ids])
        with kept_for_the_batch(tx, (FACTS,), ids):
            facts = {i: found["facts"] for i in ids if (found := FACTS.get(tx, (i,))) is not None}
            # Each member's facts before its events: folding replaces the facts' values, never
            # changes one in place (nm_workflow.application.facts), so a shallow copy keeps them.
            before = {member: dict(found) for member, found in facts.items()}
            for recorded in batch:
                fold(facts, recorded.event)
            moves: dict[Key, list[Move]] = defaultdict(list)
            for member, member_facts in facts.items():
                FACTS.put(tx, row := {"item_id": member, "facts": member_facts})
                if kept is not None:
                    kept.put(FACTS, (member,), row)
                for key, move in self._moves(before.get(member), member_facts):
                    moves[key].append(move)
            row_keys = {key: _row_key(key) for key in moves}
            if kept is not None:
                kept.seed(tx, KEPT, [(row_key,) for row_key in row_keys.values()])
            prefetch(tx, (KEPT,), list(row_keys.values()))
            stored = {rk: found["state"] for rk in row_keys.values() if (found := KEPT.get(tx, (rk,)))}
            completed(tx, stored, self._kept_parameters)
            for key in sorted(moves):
                self._move(tx, key, row_keys[key], moves[key], kept)

    def _moves(self, old: dict[str, Any] | None, new: dict[str, Any]) -> list[tuple[Key, Move]]:
        """The member's parts to take out of and merge into each row it counted in or counts in:
        all of them where it leaves or enters the row, else those of the figures that differ
        (computed only for the figures the change can touch: figure_inputs)."""
        if old is None or old["department"] != new["department"]:  # new, or with another department
            leaving = [] if old is None else [(key, (parts, None)) for key, parts in self._all_parts(old)]
            return leaving + [(key, (None, parts)) for key, parts in self._all_parts(new)]
        old_rows, new_rows = self._rows(old), self._rows(new)
        changing, department = figures_changed(old, new), new["department"]
        was_of, now_of = self._parts_of(old), self._parts_of(new)
        found: list[tuple[Key, Move]] = []
        for q, platform in old_rows | new_rows:
            figures = changing if (q, platform) in old_rows and (q, platform) in new_rows else FIGURES
            if not figures:  # e.g. a review requested: no figure reads what changed
                continue
            was, now = was_of(q, platform, figures), now_of(q, platform, figures)
            if figures is not FIGURES and (was is None) != (now is None):  # it enters or leaves after all
                was, now = was_of(q, platform, FIGURES), now_of(q, platform, FIGURES)
            if was is not None and now is not None:
                was, now = _differing(was, now), _differing(now, was)
                if not was:
                    continue
            elif was is None and now is None:
                continue
            # Its cell in its department's row and in the row of every department is the same.
            found += [((q, department, platform), (was, now)), ((q, ALL, platform), (was, now))]
        return found

    def _all_parts(self, facts: dict[str, Any]) -> list[tuple[Key, Parts]]:
        """The member's parts of every row it counts in, roll-ups included."""
        found = []
        parts_of = self._parts_of(facts)
        for q, platform in self._rows(facts):
            parts = parts_of(q, platform, FIGURES)
            if parts is not None:  # the same for its department's row and every department's
                found += [((q, facts["department"], platform), parts), ((q, ALL, platform), parts)]
        return found

    def _parts_of(self, facts: dict[str, Any]) -> Callable[[str, str, Sequence[Figure[Any]]], Parts | None]:
        """The member's parts of some figures of its department's row (quarter, platform), each
        computed once: a member of one platform has the same cell, so the same parts, in that
        platform's row and in the row of every platform (figure_rows.cell). The parts are
        shared by the rows that ask for them (`moved` copies before it changes a row's own)."""
        own = Scope().platforms_of(facts)
        computed: dict[tuple[str, str, tuple[str, ...]], Parts | None] = {}

        def parts(q: str, platform: str, figures: Sequence[Figure[Any]]) -> Parts | None:
            alike = own[0] if platform == ALL and len(own) == 1 else platform
            key = (q, alike, tuple(figure.name for figure in figures))
            if key not in computed:
                computed[key] = self._parts(facts, q, alike, figures)
            return computed[key]

        return parts

    def _rows(self, facts: dict[str, Any]) -> set[tuple[str, str]]:
        """(quarter, platform) of the rows the member may count in (its department's and every
        department's), of each platform and of every platform."""
        touched = {(quarter_of(day), p) for day, _, p in cells_touched(facts, self.parameters.zone)}
        return {(q, p2) for q, p in touched for p2 in (p, ALL)}

    def _parts(
        self, facts: dict[str, Any], label: str, platform: str, figures: Sequence[Figure[Any]]
    ) -> Parts | None:
        return member_parts(facts, _quarter(label), self.parameters, facts["department"], platform, figures)

    def _move(
        self, tx: Tx, key: Key, row_key: str, moves: list[Move], kept: KeptBetweenBatches | None
    ) -> None:
        """Take the members' old parts out of the row's state and merge their new ones in; write
        the row's figures, or delete the row when no member counts in it any more."""
        found = KEPT.get(tx, (row_key,))
        if found is None and CELLS.get(tx, key) is not None:  # rare: a row without a state is new
            raise StaleParts(f"the row {key} has no kept parts (written by an earlier release): rebuild it")
        parameters, before = self._kept_parameters, None if found is None else found["state"]
        members, parts = moved(key, before, parameters, moves)
        if parts is None or members == 0:
            KEPT.delete(tx, (row_key,))
            CELLS.delete(tx, key)
            if before is not None and before["log"][0]:
                deleted(tx, row_key)
            if kept is not None:
                kept.put(KEPT, (row_key,), None)
            return
        after = {"members": members, "parameters": parameters, "parts": parts}
        state = recorded(tx, row_key, before, after, moves, kept is not None)
        if kept is not None:  # decoded, as the next batch would read it
            kept.put(KEPT, (row_key,), {"row_key": row_key, "state": state})
        readable = {name: Packed(part) if type(part) is str else part for name, part in parts.items()}
        CELLS.put(tx, {"quarter": key[0], "department": key[1], "platform": key[2]} | values_of(readable))


_quarter = lru_cache(maxsize=64)(quarter)
"""The period of a quarter's label ('2026Q3'), parsed once for the members of every batch."""


def _differing(parts: Parts, other: Parts) -> Parts:
    """The parts of the figures whose parts differ in `other`."""
    return {name: part for name, part in parts.items() if other[name] != part}


def _row_key(key: Key) -> str:
    return _ROW_KEY.encode(key)


_ROW_KEY = json.JSONEncoder(ensure_ascii=False)  # json.dumps's with that option, made once, not per call


def read_quarter(
    read_side: ReadSide, label: str, department: str | None = None, platform: str | None = None
) -> list[dict[str, Any]]:
    """The rows of a quarter ('2026Q3'), optionally of one department and/or platform, sorted by keys.

    Raises FiguresStale when a row was computed with other parameters than the settings give now
    (a changed company time zone or review-stage hours, before the rebuild that the projection also
    asks for): those figures would be wrong, not late.
    """
    canonical = quarter_of(quarter(label).first)  # '2026q3' is 2026Q3; InvalidPeriod for a non-quarter
    params = {"q": canonical, "department": department, "platform": platform}
    where = ["quarter = :q"] + [
        f"{name} = :{name}" for name in ("department", "platform") if params[name] is not None
    ]
    statement = (
        f"SELECT * FROM {{quarterly_evaluation}} WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY department, platform"
    )
    projection = read_side.projections[QuarterlyEvaluation.name]
    assert isinstance(projection, QuarterlyEvaluation)
    with translated_errors(), read_side.db.read(projection.live_tables()) as tx:
        rows = [ROWS.decode(tx.dialect, r) for r in tx.all(statement, params)]
        _require_current(
            tx, projection.parameters, [(canonical, r["department"], r["platform"]) for r in rows]
        )
        return rows


def _require_current(tx: Tx, parameters: Parameters, keys: list[Key]) -> None:
    """FiguresStale unless every row of `keys` was computed with `parameters`."""
    for first in range(0, len(keys), 500):  # well under SQLite's limit of bound parameters
        chunk = [_row_key(key) for key in keys[first : first + 500]]
        names = ", ".join(f":k{i}" for i in range(len(chunk)))
        kept = tx.all(
            f"SELECT state FROM {{quarterly_evaluation_state}} WHERE row_key IN ({names})",  # noqa: S608
            {f"k{i}": key for i, key in enumerate(chunk)},
        )
        for row in kept:
            computed_with = STATES.decode(tx.dialect, row)["state"]["parameters"]
            if computed_with != parameters.as_dict():
                raise FiguresStale(
                    f"These figures were computed with {_described(computed_with)}; the settings now "
                    f"give {_described(parameters.as_dict())}. Rebuild them: "
                    "nm-workflow projections rebuild quarterly_evaluation."
                )


def _described(parameters: dict[str, Any]) -> str:
    return f"time zone {parameters['time_zone']}, review-stage hours {parameters['review_stage_hours']}"
