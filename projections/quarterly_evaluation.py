"""`quarterly_evaluation`: the figures of Ch. 4.4 and 6.2 per quarter x department x platform.

One row per (quarter, department, platform) in which anything counts, plus
roll-ups: `platform = '*'` (every platform of the department), `department =
'*'` (every department on the platform) and both (the whole quarter). Roll-ups
count each item once, so they are not sums of the rows (an item planned for
two platforms is one item). The figures and the rules of which quarter an item
counts in are nm_workflow.application.figures; quarters follow the
company_time_zone setting (a change of it needs a rebuild).

Bookkeeping (not part of the documented contract): `quarterly_evaluation_item`
holds each item's facts (JSON), `quarterly_evaluation_member` which rows each
item counts in. A batch folds its events into the facts, then recomputes every
row it touched from the facts of that row's items, once per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nm_workflow.application.facts import EVENT_NAMES, ItemFacts, fold
from nm_workflow.application.figures import ALL, FIGURES, Parameters, cells_touched, row
from nm_workflow.application.store import translated_errors
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.periods import quarter, quarter_of
from projections.base import Projection, Recorded, topic
from projections.schema import Index, Table, col
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
    (col("quarter", "text"), col("department", "text"), col("platform", "text"), col("item_id", "text")),
    primary_key=("quarter", "department", "platform", "item_id"),
    indexes=(Index("item", ("item_id",)),),
)
_COLUMNS = ROWS.column_names
_INSERT = (
    f"INSERT INTO {{quarterly_evaluation}} ({', '.join(_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + c for c in _COLUMNS)})"
)


class QuarterlyEvaluation(Projection):
    name = "quarterly_evaluation"
    schema = (ROWS, ITEMS, MEMBERS)

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted(topic(ContentItem, name) for name in EVENT_NAMES))

    @property
    def parameters(self) -> Parameters:
        return Parameters(self.settings.company_time_zone, self.settings.review_stage_hours)

    def apply(self, tx: Tx, batch: Sequence[Recorded]) -> None:
        facts: dict[str, ItemFacts] = {}
        for recorded in batch:
            item_id = str(recorded.event.originator_id)
            if item_id not in facts:
                stored = tx.one(
                    "SELECT facts FROM {quarterly_evaluation_item} WHERE item_id = :id", {"id": item_id}
                )
                if stored is not None:
                    facts[item_id] = tx.dialect.json_out(stored["facts"])
            fold(facts, recorded.event)
        dirty: set[Key] = set()
        for item_id, item in facts.items():
            dirty |= self._store_item(tx, item_id, item)
        for key in sorted(dirty):
            self._recompute(tx, key)

    def _store_item(self, tx: Tx, item_id: str, item: ItemFacts) -> set[Key]:
        """Save the item's facts and memberships; every row, roll-ups included, it counted or counts in."""
        params = {"id": item_id}
        before = tx.all("SELECT quarter, department, platform FROM {quarterly_evaluation_member} "
                        "WHERE item_id = :id", params)  # fmt: skip
        after = {(quarter_of(day), d, p) for day, d, p in cells_touched(item, self.parameters.zone)}
        tx.execute("DELETE FROM {quarterly_evaluation_item} WHERE item_id = :id", params)
        tx.execute("INSERT INTO {quarterly_evaluation_item} (item_id, facts) VALUES (:id, :facts)",
                   params | {"facts": tx.dialect.json(item)})  # fmt: skip
        tx.execute("DELETE FROM {quarterly_evaluation_member} WHERE item_id = :id", params)
        for q, d, p in sorted(after):
            tx.execute(
                "INSERT INTO {quarterly_evaluation_member} (quarter, department, platform, item_id) "
                "VALUES (:q, :d, :p, :id)",
                params | {"q": q, "d": d, "p": p},
            )
        touched = after | {(r["quarter"], r["department"], r["platform"]) for r in before}
        return {(q, d2, p2) for q, d, p in touched for d2 in (d, ALL) for p2 in (p, ALL)}

    def _recompute(self, tx: Tx, key: Key) -> None:
        q, department, platform = key
        params = {"q": q, "d": department, "p": platform}
        members = tx.all(
            "SELECT facts FROM {quarterly_evaluation_item} WHERE item_id IN "  # noqa: S608
            "(SELECT item_id FROM {quarterly_evaluation_member} "
            f"WHERE {_where(department, platform, ALL)}) ORDER BY item_id",
            params,
        )
        facts = [tx.dialect.json_out(m["facts"]) for m in members]
        tx.execute(
            "DELETE FROM {quarterly_evaluation} WHERE quarter = :q AND department = :d AND platform = :p",
            params,
        )
        found = row(facts, quarter(q), self.parameters, department, platform)
        if found is not None:
            tx.execute(_INSERT, found | {"quarter": q})


def _where(department: str | None, platform: str | None, any_value: str | None) -> str:
    """Rows of quarter :q, and of department :d and platform :p unless they are `any_value`."""
    where = ["quarter = :q"]
    for column, key, value in (("department", "d", department), ("platform", "p", platform)):
        if value != any_value:
            where.append(f"{column} = :{key}")
    return " AND ".join(where)


def read_quarter(
    read_side: ReadSide, label: str, department: str | None = None, platform: str | None = None
) -> list[dict[str, Any]]:
    """The rows of a quarter ('2026Q3'), optionally of one department and/or platform, sorted by keys."""
    quarter(label)  # InvalidPeriod for anything but a quarter
    params = {"q": label, "d": department, "p": platform}
    statement = (
        f"SELECT * FROM {{quarterly_evaluation}} WHERE {_where(department, platform, None)} "  # noqa: S608
        "ORDER BY department, platform"
    )
    tables = read_side.projections[QuarterlyEvaluation.name].live_tables()
    with translated_errors(), read_side.db.read(tables) as tx:
        return [ROWS.decode(tx.dialect, r) for r in tx.all(statement, params)]
