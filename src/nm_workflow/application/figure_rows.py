"""The rows of a period: which items and publications each row counts, and the roll-ups.

Which period an item counts in (in the company's time zone):
- item figures (planned, withdrawn, cancelled, reviews): the item's planned
  publish date, or the day it was planned when it has none;
- publication figures (published, plan-to-publish, reach, rates): the
  `published_at` the publication reported;
- interactions: the day received, on their platform, in the department they
  are with (the one escalated to last, else the receiving department);
- follower growth: the account's owning department and platform, in every
  period with an observation;
- feedback: the department it was triaged to (else submitted to), the days it
  was submitted and closed; it has no platform, so it counts only in rows of
  every platform (`platform = ALL`), and not at all in an evaluation scoped to
  platforms.
A row is (department, platform); `ALL` in either rolls up over the scope,
counting each item once. The figures themselves: nm_workflow.application.figures.
A row's cell is the disjoint union of its members' cells, so its parts are the
merge of theirs (`member_parts`, `parts_added`, `parts_removed`; ADR 0038).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain
from typing import Any, cast
from zoneinfo import ZoneInfo

from nm_workflow.application.facts import ItemFacts
from nm_workflow.application.figure_parts import added, removed
from nm_workflow.application.figures import (
    FIGURES,
    NAMES,
    Cell,
    Figure,
    Parameters,
    Parts,
    Publication,
    figures_of,
    local_day,
    moment,
    parts_of,
)
from nm_workflow.domain.periods import Period

ALL = "*"
"""The department or platform of a rolled-up row."""


def item_day(item: ItemFacts, zone: ZoneInfo) -> date:
    """The day an item counts on: its planned publish date, else the day it was planned."""
    if item["planned_publish_date"] is not None:
        return date.fromisoformat(item["planned_publish_date"])
    return local_day(item["planned_at"], zone)


def aggregate_of(facts: Mapping[str, Any]) -> str:
    """'item', 'interaction', 'channel_account' or 'feedback'."""
    return str(facts.get("aggregate", "item"))


@dataclass(frozen=True)
class Scope:
    """The departments and platforms an evaluation covers (None: all)."""

    departments: frozenset[str] | None = None
    platforms: frozenset[str] | None = None

    def platforms_of(self, facts: Mapping[str, Any]) -> list[str]:
        """The platforms of the facts in scope; feedback has none but ALL, outside a platform scope."""
        if self.departments is not None and facts["department"] not in self.departments:
            return []
        kind = aggregate_of(facts)
        if kind == "feedback":
            return [ALL] if self.platforms is None else []
        own = facts["platforms"] if kind == "item" else [facts["platform"]]
        return [p for p in own if self.platforms is None or p in self.platforms]


def cell(
    facts: Iterable[Mapping[str, Any]], period: Period, parameters: Parameters, department: str,
    platform: str, scope: Scope = Scope(),
) -> Cell:  # fmt: skip
    """The inputs of the row (department, platform); ALL rolls up over the scope."""
    zone = parameters.zone
    inputs = Cell([], [], parameters, period)
    for found in facts:  # each member's own contribution: a row's cell is their disjoint union
        if department not in (ALL, found["department"]):
            continue
        platforms = [p for p in scope.platforms_of(found) if platform in (ALL, p)]
        if not platforms:
            continue
        kind = aggregate_of(found)
        if kind == "item":
            item = cast(ItemFacts, found)
            if period.holds_day(item_day(item, zone)):
                inputs.items.append(item)
            for p in platforms:
                published = item["publications"].get(p)
                if published is not None and period.holds_day(local_day(published, zone)):
                    inputs.publications.append(Publication(item, p, moment(published)))
        elif any(period.holds_day(day) for day, _, _ in cells_touched(found, zone)):
            getattr(inputs, _CELL_LISTS[kind]).append(found)
    return inputs


_CELL_LISTS = {"interaction": "interactions", "channel_account": "accounts", "feedback": "feedback"}


def row(
    facts: Sequence[Mapping[str, Any]], period: Period, parameters: Parameters, department: str,
    platform: str, scope: Scope = Scope(),
) -> dict[str, Any] | None:  # fmt: skip
    """One row: the cell's keys and every figure; None when nothing counts in it."""
    inputs = cell(facts, period, parameters, department, platform, scope)
    if inputs.is_empty():
        return None
    return {"department": department, "platform": platform, **figures_of(inputs)}


def member_parts(
    facts: Mapping[str, Any], period: Period, parameters: Parameters, department: str, platform: str,
    figures: Sequence[Figure[Any]] | None = None,
) -> Parts | None:  # fmt: skip
    """One member's (item's, interaction's, account's, feedback's) parts of `figures` (None:
    all) of the row (department, platform) of `period`; None when it does not count in the
    row. A row's figures are the values of its members' merged parts (ADR 0038)."""
    inputs = cell((facts,), period, parameters, department, platform)
    return None if inputs.is_empty() else parts_of(inputs, figures)


MULTISET: dict[str, bool] = {f.name: f.multiset for f in FIGURES}
"""figure name -> whether its part is Values (else Counts)."""


def parts_added(whole: dict[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    """`whole` with `part` merged in, figure by figure of `part` (all, or some): in place."""
    for name, value in part.items():
        whole[name] = added(MULTISET[name], whole[name], value)
    return whole


def parts_merged(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The merge of several members' parts of every figure, in new lists: what `parts_added`
    gives adding them one by one to a copy of the first, at once (a multiset's values sorted
    once, not inserted one at a time; counts summed column by column). A row that a batch
    makes new, as a rebuild makes every row, takes all its members so."""
    return {
        name: sorted(chain.from_iterable(p[name] for p in parts))
        if MULTISET[name]
        else [sum(column) for column in zip(*(p[name] for p in parts), strict=True)]
        for name in parts[0]
    }


def parts_removed(whole: dict[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    """`whole` without the parts `part` it holds (PartNotHeld if it does not), figure by figure
    of `part`: in place."""
    for name, value in part.items():
        whole[name] = removed(MULTISET[name], whole[name], value)
    return whole


def cells_touched(facts: Mapping[str, Any], zone: ZoneInfo) -> set[tuple[date, str, str]]:
    """(day, department, platform) of everything the facts count in; roll-ups not included.

    Items: their day (item_day) on each platform, and each publication's day; interactions:
    the day received; channel accounts: each observation's day; feedback (platform ALL): the
    days submitted and closed. Days are in `zone`.
    """
    kind, department = aggregate_of(facts), facts["department"]
    if kind == "interaction":
        return {(local_day(facts["received_at"], zone), department, facts["platform"])}
    if kind == "channel_account":
        return {(local_day(at, zone), department, facts["platform"]) for at in facts["followers"]}
    if kind == "feedback":
        moments = [m for m in (facts["submitted_at"], facts["closed_at"]) if m is not None]
        return {(local_day(m, zone), department, ALL) for m in moments}
    item = cast(ItemFacts, facts)
    day = item_day(item, zone)
    touched = {(day, department, p) for p in item["platforms"]}
    for platform, published in item["publications"].items():
        touched.add((local_day(published, zone), department, platform))
    return touched


def rows(
    facts: Sequence[Mapping[str, Any]],
    period: Period,
    parameters: Parameters,
    scope: Scope = Scope(),
) -> list[dict[str, Any]]:
    """Every row of a period: each department x platform counted, the roll-ups, and the total."""
    keys: set[tuple[str, str]] = set()
    for found in facts:
        platforms = set(scope.platforms_of(found))
        for day, department, platform in cells_touched(found, parameters.zone):
            if platform in platforms and period.holds_day(day):
                keys |= {(department, platform), (department, ALL), (ALL, platform), (ALL, ALL)}
    found_rows = (row(facts, period, parameters, d, p, scope) for d, p in sorted(keys))
    return [r for r in found_rows if r is not None]


def differences(signed: list[dict[str, Any]], other: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every figure that differs between two sets of rows: department, platform, figure, both values."""

    def keyed(rows_: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(r["department"], r["platform"]): r for r in rows_}

    mine, theirs = keyed(signed), keyed(other)
    found = []
    for key in sorted(mine.keys() | theirs.keys()):
        for name in NAMES:
            a, b = mine.get(key, {}).get(name), theirs.get(key, {}).get(name)
            if a != b:
                delta = b - a if isinstance(a, int | float) and isinstance(b, int | float) else None
                found.append({"department": key[0], "platform": key[1], "figure": name,
                              "signed": a, "other": b, "delta": delta})  # fmt: skip
    return found
