"""Which figures a change of one member's facts can change (ADR 0038, addendum).

A figure's part of a row is computed from the row's cell: which items and
publications it holds, and what the part reads of them. For an item, which
cells hold it follows from the keys in `ITEM_ROWS` and, for its publications,
from `publications`; `READS` names, per figure, the item facts (keys of
nm_workflow.application.facts.ItemFacts) its part reads besides. So when an
item's facts change only in keys outside `ITEM_ROWS`, its part of a figure can
change only if the figure reads one of them: an approval changes the review
figures, not the metrics. The parts are still computed by each figure's one
formula, for fewer figures.

Interactions, channel accounts and feedback are small records whose every key
the figures over them read: a change of one recomputes all of a member's parts.
A figure missing from `READS` (a new one) is recomputed on any change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nm_workflow.application.figure_rows import aggregate_of
from nm_workflow.application.figures import FIGURES, Figure

ITEM_ROWS = frozenset({"department", "platforms", "planned_at", "planned_publish_date"})
"""The item facts that decide which rows count the item (its publications aside)."""
_PUBLISHED = frozenset({"publications"})
_MEASURED = frozenset({"publications", "metrics"})
_REVIEWED = frozenset({"reviews"})
_NONE = frozenset[str]()
READS: dict[str, frozenset[str]] = {
    "items_planned": _NONE,
    "items_published": _PUBLISHED,
    "items_withdrawn": frozenset({"closed"}),
    "items_cancelled": frozenset({"closed"}),
    "plan_to_publish_median_hours": _PUBLISHED | {"planned_at"},
    "plan_to_publish_p90_hours": _PUBLISHED | {"planned_at"},
    **{f.name: _REVIEWED for f in FIGURES if f.name.startswith("review_median_hours_")},
    "reviews_within_deadline_share": _REVIEWED,
    "first_pass_approval_rate": frozenset({"first_pass"}),
    **{f.name: frozenset({"changes"}) for f in FIGURES if f.name.startswith("changes_requested_")},
    "compliance_findings_per_revision": frozenset({"revisions", "findings"}),
    "impressions": _MEASURED,
    "reach": _MEASURED,
    "interaction_rate": _MEASURED,
    "conversion_rate": _MEASURED,
    # Over interactions, channel accounts and feedback: an item's part is always empty.
    **{
        name: _NONE
        for name in (
            "follower_growth", "interactions_received", "interactions_answered_in_time_share",
            "first_response_median_hours", "interactions_negative_share", "escalations_opened",
            "escalations_closed_in_time_share", "feedback_received", "feedback_closed",
        )
    },
}  # fmt: skip
"""figure name -> the item facts its part reads, besides which items and publications a cell holds."""


def figures_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[Figure[Any], ...]:
    """The figures whose parts of a row may differ between two versions of one member's facts
    in a row that counts the member in both: every figure, unless both are an item's and differ
    only outside `ITEM_ROWS`, then those that read a key that differs."""
    if aggregate_of(before) != "item" or aggregate_of(after) != "item":
        return FIGURES
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    if changed & ITEM_ROWS:
        return FIGURES
    return tuple(f for f in FIGURES if f.name not in READS or READS[f.name] & changed)
