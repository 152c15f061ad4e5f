"""The rows of a period: which items and publications each row counts, and the roll-ups.

Which period an item counts in (in the company's time zone):
- item figures (planned, withdrawn, cancelled, reviews): the item's planned
  publish date, or the day it was planned when it has none;
- publication figures (published, plan-to-publish, reach, rates): the
  `published_at` the publication reported.
A row is (department, platform); `ALL` in either rolls up over the scope,
counting each item once. The figures themselves: nm_workflow.application.figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from nm_workflow.application.facts import ItemFacts
from nm_workflow.application.figures import (
    NAMES,
    Cell,
    Parameters,
    Publication,
    figures_of,
    local_day,
    moment,
)
from nm_workflow.domain.periods import Period

ALL = "*"
"""The department or platform of a rolled-up row."""


def item_day(item: ItemFacts, zone: ZoneInfo) -> date:
    """The day an item counts on: its planned publish date, else the day it was planned."""
    if item["planned_publish_date"] is not None:
        return date.fromisoformat(item["planned_publish_date"])
    return local_day(item["planned_at"], zone)


@dataclass(frozen=True)
class Scope:
    """The departments and platforms an evaluation covers (None: all)."""

    departments: frozenset[str] | None = None
    platforms: frozenset[str] | None = None

    def platforms_of(self, item: ItemFacts) -> list[str]:
        if self.departments is not None and item["department"] not in self.departments:
            return []
        return [p for p in item["platforms"] if self.platforms is None or p in self.platforms]


def cell(
    facts: Iterable[ItemFacts], period: Period, parameters: Parameters, department: str, platform: str,
    scope: Scope = Scope(),
) -> Cell:  # fmt: skip
    """The inputs of the row (department, platform); ALL rolls up over the scope."""
    zone = parameters.zone
    items, publications = [], []
    for item in facts:
        if department not in (ALL, item["department"]):
            continue
        platforms = [p for p in scope.platforms_of(item) if platform in (ALL, p)]
        if platforms and period.holds_day(item_day(item, zone)):
            items.append(item)
        for p in platforms:
            published = item["publications"].get(p)
            if published is not None and period.holds_day(local_day(published, zone)):
                publications.append(Publication(item, p, moment(published)))
    return Cell(items, publications, parameters)


def row(
    facts: Sequence[ItemFacts], period: Period, parameters: Parameters, department: str, platform: str,
    scope: Scope = Scope(),
) -> dict[str, Any] | None:  # fmt: skip
    """One row: the cell's keys and every figure; None when nothing counts in it."""
    inputs = cell(facts, period, parameters, department, platform, scope)
    if not inputs.items and not inputs.publications:
        return None
    return {"department": department, "platform": platform, **figures_of(inputs)}


def cells_touched(item: ItemFacts, zone: ZoneInfo) -> set[tuple[date, str, str]]:
    """(day, department, platform) of everything the item counts in; roll-ups not included."""
    day = item_day(item, zone)
    touched = {(day, item["department"], p) for p in item["platforms"]}
    for platform, published in item["publications"].items():
        touched.add((local_day(published, zone), item["department"], platform))
    return touched


def rows(
    facts: Sequence[ItemFacts],
    period: Period,
    parameters: Parameters,
    scope: Scope = Scope(),
) -> list[dict[str, Any]]:
    """Every row of a period: each department x platform counted, the roll-ups, and the total."""
    keys: set[tuple[str, str]] = set()
    for item in facts:
        platforms = set(scope.platforms_of(item))
        for day, department, platform in cells_touched(item, parameters.zone):
            if platform in platforms and period.holds_day(day):
                keys |= {(department, platform), (department, ALL), (ALL, platform), (ALL, ALL)}
    found = (row(facts, period, parameters, d, p, scope) for d, p in sorted(keys))
    return [r for r in found if r is not None]


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
