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
_COLUMNS = ROWS.column_names
_IDS_PER_STATEMENT = 500  # well under SQLite's limit of bound parameters
_INSERT = (
    f"INSERT INTO {{quarterly_evaluation}} ({', '.join(_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + c for c in _COLUMNS)})"
)


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
        facts = self._load(tx, ids)
        before = {item_id: self._keys(item) for item_id, item in facts.items()}
        for recorded in batch:
            fold(facts, recorded.event)
        dirty: set[Key] = set()
        for item_id, item in facts.items():
            old, new = before.get(item_id, set()), self._keys(item)
            self._save(tx, item_id, item, {k[0] for k in old}, {k[0] for k in new}, known=item_id in before)
            dirty |= old | new
        for q in sorted({k[0] for k in dirty}):
            self._recompute(tx, q, sorted(k for k in dirty if k[0] == q))

    def _keys(self, item: dict[str, Any]) -> set[Key]:
        """Every row the item counts in, roll-ups included."""
        touched = {(quarter_of(day), d, p) for day, d, p in cells_touched(item, self.parameters.zone)}
        return {(q, d2, p2) for q, d, p in touched for d2 in (d, ALL) for p2 in (p, ALL)}

    @staticmethod
    def _load(tx: Tx, ids: Sequence[str]) -> dict[str, Any]:
        """The stored facts of the items `ids` (those known), a few hundred ids per statement."""
        facts: dict[str, Any] = {}
        for start in range(0, len(ids), _IDS_PER_STATEMENT):
            params = {f"id{n}": item_id for n, item_id in enumerate(ids[start : start + _IDS_PER_STATEMENT])}
            found = tx.all(
                "SELECT item_id, facts FROM {quarterly_evaluation_item} "  # noqa: S608
                f"WHERE item_id IN ({', '.join(':' + key for key in params)})",
                params,
            )
            facts |= {r["item_id"]: tx.dialect.json_out(r["facts"]) for r in found}
        return facts

    @staticmethod
    def _save(
        tx: Tx, item_id: str, item: dict[str, Any], old: set[str], new: set[str], *, known: bool
    ) -> None:
        """The facts of an item (or interaction, account, feedback), and the quarters it counts in."""
        params = {"id": item_id, "facts": tx.dialect.json(item)}
        if known:
            tx.execute("UPDATE {quarterly_evaluation_item} SET facts = :facts WHERE item_id = :id", params)
        else:
            tx.execute(
                "INSERT INTO {quarterly_evaluation_item} (item_id, facts) VALUES (:id, :facts)", params
            )
        for q in sorted(old - new):
            tx.execute(
                "DELETE FROM {quarterly_evaluation_member} WHERE quarter = :q AND item_id = :id",
                {"q": q, "id": item_id},
            )
        for q in sorted(new - old):
            tx.execute(
                "INSERT INTO {quarterly_evaluation_member} (quarter, item_id) VALUES (:q, :id)",
                {"q": q, "id": item_id},
            )

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
        for _, department, platform in keys:
            params = {"q": q, "d": department, "p": platform}
            tx.execute(
                "DELETE FROM {quarterly_evaluation} WHERE quarter = :q AND department = :d AND platform = :p",
                params,
            )
            found = row(items, period, self.parameters, department, platform)
            if found is not None:
                tx.execute(_INSERT, found | {"quarter": q})


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
