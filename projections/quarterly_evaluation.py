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
by aggregate id (column `item_id`), `quarterly_evaluation_member` the quarters
each counts in. A batch folds its events into the facts of the items it
touches, then recomputes every row those items counted or count in, once per
batch, from the facts of the quarter's items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nm_workflow.application.facts import TOPICS, fold
from nm_workflow.application.figure_rows import ALL, cells_touched, row
from nm_workflow.application.figures import FIGURES, Parameters
from nm_workflow.application.store_errors import translated_errors
from nm_workflow.domain.periods import quarter, quarter_of
from projections.base import Projection, Recorded
from projections.json_rows import json_column
from projections.rows import Keyed, flush, kept_for_the_batch
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
MEMBERS = Table(
    "quarterly_evaluation_member",
    (col("quarter", "text"), col("item_id", "text")),
    primary_key=("quarter", "item_id"),
)
# Kept for a batch (projections/rows.py) and written in bulk: the facts read by item id before
# the first event; the members and the rows (whose first key column is not an aggregate's id)
# are only put and deleted, never read through the mechanism.
FACTS = Keyed(ITEMS, ("item_id",))
QUARTERS = Keyed(MEMBERS, ("item_id", "quarter"))
CELLS = Keyed(ROWS, ("quarter", "department", "platform"))


class QuarterlyEvaluation(Projection):
    name = "quarterly_evaluation"
    schema = (ROWS, ITEMS, MEMBERS)

    @property
    def topics(self) -> tuple[str, ...]:
        return TOPICS

    @property
    def parameters(self) -> Parameters:
        return Parameters(self.settings.company_time_zone, self.settings.review_stage_hours)

    def apply(self, tx: Tx, batch: Sequence[Recorded]) -> None:
        ids = sorted({str(r.event.originator_id) for r in batch})
        with kept_for_the_batch(tx, (FACTS,), ids):
            facts = {i: found["facts"] for i in ids if (found := FACTS.get(tx, (i,))) is not None}
            before = {item_id: self._keys(item) for item_id, item in facts.items()}
            for recorded in batch:
                fold(facts, recorded.event)
            dirty: set[Key] = set()
            for item_id, item in facts.items():
                old, new = before.get(item_id, set()), self._keys(item)
                self._save(tx, item_id, item, {k[0] for k in old}, {k[0] for k in new})
                dirty |= old | new
            flush(tx)  # the recomputation reads each quarter's members from the tables
            for q in sorted({k[0] for k in dirty}):
                self._recompute(tx, q, sorted(k for k in dirty if k[0] == q))

    def _keys(self, item: dict[str, Any]) -> set[Key]:
        """Every row the item counts in, roll-ups included."""
        touched = {(quarter_of(day), d, p) for day, d, p in cells_touched(item, self.parameters.zone)}
        return {(q, d2, p2) for q, d, p in touched for d2 in (d, ALL) for p2 in (p, ALL)}

    @staticmethod
    def _save(tx: Tx, item_id: str, item: dict[str, Any], old: set[str], new: set[str]) -> None:
        """The facts of an item (or interaction, account, feedback), and the quarters it counts in."""
        FACTS.put(tx, {"item_id": item_id, "facts": item})
        for q in old - new:
            QUARTERS.delete(tx, (item_id, q))
        for q in new - old:
            QUARTERS.put(tx, {"quarter": q, "item_id": item_id})

    def _recompute(self, tx: Tx, q: str, keys: list[Key]) -> None:
        """Recompute the quarter's rows `keys` from the facts of every item counting in the quarter."""
        # Every item of the quarter is held here at once: json_column keeps that small.
        items = json_column(
            tx,
            "SELECT CAST(i.facts AS text) FROM {quarterly_evaluation_item} AS i "
            "JOIN {quarterly_evaluation_member} AS m "
            "ON m.item_id = i.item_id WHERE m.quarter = :q ORDER BY i.item_id",
            {"q": q},
        )
        period = quarter(q)
        for key in keys:
            found = row(items, period, self.parameters, key[1], key[2])
            if found is None:
                CELLS.delete(tx, key)
            else:
                CELLS.put(tx, found | {"quarter": q})


def read_quarter(
    read_side: ReadSide, label: str, department: str | None = None, platform: str | None = None
) -> list[dict[str, Any]]:
    """The rows of a quarter ('2026Q3'), optionally of one department and/or platform, sorted by keys."""
    canonical = quarter_of(quarter(label).first)  # '2026q3' is 2026Q3; InvalidPeriod for a non-quarter
    params = {"q": canonical, "department": department, "platform": platform}
    where = ["quarter = :q"] + [
        f"{name} = :{name}" for name in ("department", "platform") if params[name] is not None
    ]
    statement = (
        f"SELECT * FROM {{quarterly_evaluation}} WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY department, platform"
    )
    tables = read_side.projections[QuarterlyEvaluation.name].live_tables()
    with translated_errors(), read_side.db.read(tables) as tx:
        return [ROWS.decode(tx.dialect, r) for r in tx.all(statement, params)]
