"""The evaluation figures (Ch. 4.4, 6.2): one registry, one pure computation.

Each `Figure` has a name (the column of `quarterly_evaluation`), a unit, a
formula and the events that feed it; the same registry renders the table of
docs/projections.md (`figures_markdown`). A figure is computed in two steps
(ADR 0038): `part` summarises one row's `Cell` (its items and publications;
which ones is nm_workflow.application.figure_rows) in a form that merges and
takes apart (nm_workflow.application.figure_parts), `value` computes the figure
from a part. `figures_of` computes every figure of a cell from scratch, for the
sign-off and `reports reproduce`; the projection keeps each row's merged parts
(`parts_of` each member) and computes the figures with `values_of`.

Figures of item facts read `Cell.items`; those of interactions, channel accounts
and feedback read the records of nm_workflow.application.supervision_facts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import cached_property, lru_cache
from typing import Any, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

from nm_workflow.application import supervision_figures as sf
from nm_workflow.application.facts import ItemFacts
from nm_workflow.application.figure_parts import (
    Counts,
    Part,
    Values,
    count,
    count_or_none,
    median,
    p90,
    ratio,
    reported,
)
from nm_workflow.application.supervision_facts import AccountFacts, FeedbackFacts, InteractionFacts
from nm_workflow.domain.periods import Period
from nm_workflow.domain.roles import Stage

Value = int | float | None
P = TypeVar("P", Counts, Values)


@dataclass(frozen=True)
class Parameters:
    """What the figures depend on besides the events; recorded with every sign-off."""

    time_zone: str
    review_stage_hours: int

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Publication:
    item: ItemFacts
    platform: str
    published_at: datetime


@dataclass(frozen=True)
class Cell:
    """One row's inputs: the items, publications, interactions, accounts and feedback it counts."""

    items: list[ItemFacts]
    publications: list[Publication]
    parameters: Parameters
    period: Period
    interactions: list[InteractionFacts] = field(default_factory=list)
    accounts: list[AccountFacts] = field(default_factory=list)
    feedback: list[FeedbackFacts] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.items or self.publications or self.interactions or self.accounts or self.feedback)


@dataclass(frozen=True)
class Figure(Generic[P]):
    """A figure: `value(part(cell))`; `part` gives Counts or, for a `multiset` figure, sorted Values."""

    name: str
    unit: str
    formula: str
    feeds: str
    part: Callable[[Cell], P]
    value: Callable[[P], Value]
    type: Literal["int", "real"] = "real"

    @cached_property
    def multiset(self) -> bool:
        return self.value in (median, p90)


# --- helpers -------------------------------------------------------------------------


# The same facts' times are parsed over and over (a member's parts before and after each batch
# that changes it, every reproduction): parse each time text once.
@lru_cache(maxsize=1 << 16)
def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


@lru_cache(maxsize=1 << 16)
def local_day(text: str, zone: ZoneInfo) -> date:
    """The day a moment (ISO text) falls on in `zone`."""
    return moment(text).astimezone(zone).date()


def _hours(start: str | datetime, end: str | datetime) -> float:
    first = moment(start) if isinstance(start, str) else start
    last = moment(end) if isinstance(end, str) else end
    return (last - first).total_seconds() / 3600


def _decided(cell: Cell, stage: str | None = None) -> list[list[Any]]:
    return [r for item in cell.items for r in item["reviews"] if stage is None or r[0] == stage]


def _within_deadline(cell: Cell) -> Counts:
    decided = _decided(cell)
    # Each stage's own limit, as recorded with its review request; the setting for older records.
    default = cell.parameters.review_stage_hours
    return [sum(_hours(r[1], r[2]) <= _limit(r, default) for r in decided), len(decided)]


def _findings_per_revision(cell: Cell) -> Counts:
    revisions = sum(item.get("revisions", 0) for item in cell.items)
    return [sum(item.get("findings", 0) for item in cell.items), revisions]


def _limit(review: list[Any], default: int) -> int:
    return int(review[4]) if len(review) > 4 and review[4] is not None else default


def _total(publication: Publication, counter: str) -> int | None:
    reported = publication.item["metrics"].get(publication.platform, {}).get(counter)
    return None if reported is None else int(reported[1])


def _sum(cell: Cell, counter: str) -> Counts:
    totals = [t for p in cell.publications if (t := _total(p, counter)) is not None]
    return [sum(totals), len(totals)]


def _interaction_rate(cell: Cell) -> Counts:
    engaged = impressions = 0
    for p in cell.publications:
        shown = _total(p, "impressions")
        if shown is not None:
            impressions += shown
            engaged += sum(_total(p, n) or 0 for n in ("likes", "comments", "shares", "saves"))
    return [engaged, impressions]


def _conversion_rate(cell: Cell) -> Counts:
    conversions = clicks = 0
    for p in cell.publications:
        clicked, converted = _total(p, "clicks"), _total(p, "conversions")
        if clicked is not None and converted is not None:
            clicks, conversions = clicks + clicked, conversions + converted
    return [conversions, clicks]


def _first_pass(cell: Cell) -> Counts:
    decided = [item["first_pass"] for item in cell.items if item["first_pass"] is not None]
    return [sum(decided), len(decided)]


def _plan_to_publish(cell: Cell) -> Values:
    return sorted(_hours(p.item["planned_at"], p.published_at) for p in cell.publications)


def _review_median(stage: Stage) -> Figure[Values]:
    return Figure(
        f"review_median_hours_{stage.value}",
        "hours",
        f"median of (decided_at - waiting_since) over decided {stage.value} review stages",
        "ReviewRequested, EditoriallyApproved, DepartmentHeadApproved, LegallyApproved, ChangesRequested",
        lambda cell: sorted(_hours(r[1], r[2]) for r in _decided(cell, stage.value)),
        median,
    )


def _changes(stage: Stage) -> Figure[Counts]:
    return Figure(
        f"changes_requested_{stage.value}",
        "count",
        f"ChangesRequested events at the {stage.value} stage",
        "ChangesRequested",
        lambda cell: [sum(item["changes"].get(stage.value, 0) for item in cell.items)],
        count,
        "int",
    )


_ITEM_EVENTS = "Planned"
FIGURES: tuple[Figure[Any], ...] = (
    Figure("items_planned", "count", "items counted in the period", _ITEM_EVENTS,
           lambda cell: [len(cell.items)], count, "int"),
    # Per member 0 or 1 (one item's publications), so the merge of the parts counts distinct items.
    Figure("items_published", "count", "distinct items with a publication in the period", "Published",
           lambda cell: [len({p.item["item_id"] for p in cell.publications})], count, "int"),
    Figure("items_withdrawn", "count", "items counted in the period that were withdrawn", "Withdrawn",
           lambda cell: [sum(item["closed"] == "withdrawn" for item in cell.items)], count, "int"),
    Figure("items_cancelled", "count", "items counted in the period that were cancelled", "Cancelled",
           lambda cell: [sum(item["closed"] == "cancelled" for item in cell.items)], count, "int"),
    Figure("plan_to_publish_median_hours", "hours",
           "median of (published_at - time the item was planned) over the period's publications",
           "Planned, Published", _plan_to_publish, median),
    Figure("plan_to_publish_p90_hours", "hours",
           "90th percentile (nearest rank) of the same durations", "Planned, Published",
           _plan_to_publish, p90),
    *(_review_median(stage) for stage in Stage),
    Figure("reviews_within_deadline_share", "share 0-1",
           "decided review stages with (decided_at - waiting_since) <= the stage's hours / decided stages",
           "ReviewRequested, the approvals, ChangesRequested", _within_deadline, ratio),
    Figure("first_pass_approval_rate", "share 0-1",
           "items fully approved before any change request / items fully approved or sent back",
           "LegallyApproved, ChangesRequested", _first_pass, ratio),
    *(_changes(stage) for stage in Stage),
    Figure("compliance_findings_per_revision", "findings per revision",
           "compliance findings on revisions drafted / revisions drafted, of the items counted",
           "Drafted (its findings)", _findings_per_revision, ratio),
    Figure("impressions", "count", "sum of the latest impressions total of each publication",
           "MetricsRecorded", lambda cell: _sum(cell, "impressions"), reported, "int"),
    Figure("reach", "count", "sum of the latest reach total of each publication", "MetricsRecorded",
           lambda cell: _sum(cell, "reach"), reported, "int"),
    Figure("interaction_rate", "share",
           "sum(likes + comments + shares + saves) / sum(impressions), publications reporting impressions",
           "MetricsRecorded", _interaction_rate, ratio),
    Figure("conversion_rate", "share",
           "sum(conversions) / sum(clicks), over publications reporting both", "MetricsRecorded",
           _conversion_rate, ratio),
    Figure("follower_growth", "followers",
           "sum over channel accounts observed in the period of (last count observed in it - last count "
           "observed before it, or the first count in it for an account first observed in it)",
           "Registered, FollowersRecorded",
           lambda cell: sf.follower_growth(cell.accounts, cell.period, cell.parameters.zone), reported,
           "int"),
    Figure("interactions_received", "count", "interactions received in the period", "Received (Interaction)",
           lambda cell: [len(cell.interactions)], count_or_none, "int"),
    Figure("interactions_answered_in_time_share", "share 0-1",
           "interactions whose first response came at or before their response_due / interactions received",
           "Received, Responded", lambda cell: sf.answered_in_time(cell.interactions), ratio),
    Figure("first_response_median_hours", "hours",
           "median of (first replied_at - received_at) over interactions with a response",
           "Received, Responded", lambda cell: sf.first_response_hours(cell.interactions), median),
    Figure("interactions_negative_share", "share 0-1", "negative interactions / interactions received",
           "Received", lambda cell: sf.negative(cell.interactions), ratio),
    Figure("escalations_opened", "count", "Escalated events of the interactions received in the period",
           "Escalated", lambda cell: sf.escalations_opened(cell.interactions), reported, "int"),
    Figure("escalations_closed_in_time_share", "share 0-1",
           "negative interactions escalated or resolved (the first of the two) at or before their "
           "negative-handling deadline / negative interactions received",
           "Received, Escalated, Resolved", lambda cell: sf.negative_handled_in_time(cell.interactions),
           ratio),
    Figure("feedback_received", "count", "feedback submitted in the period (rows of every platform only)",
           "Submitted (Feedback), Triaged",
           lambda cell: sf.feedback_received(cell.feedback, cell.period, cell.parameters.zone), reported,
           "int"),
    Figure("feedback_closed", "count", "feedback closed in the period (rows of every platform only)",
           "Closed (Feedback), Triaged",
           lambda cell: sf.feedback_closed(cell.feedback, cell.period, cell.parameters.zone), reported,
           "int"),
)  # fmt: skip
NAMES: tuple[str, ...] = tuple(f.name for f in FIGURES)
Parts = dict[str, Part]
"""figure name -> part, of every figure."""


def parts_of(inputs: Cell, figures: Sequence[Figure[Any]] | None = None) -> Parts:
    """The parts of `figures` (None: all) of one row's cell."""
    return {figure.name: figure.part(inputs) for figure in (FIGURES if figures is None else figures)}


def values_of(parts: Mapping[str, Any]) -> dict[str, Value]:
    """Every figure from its part (a row's merged parts, e.g. as kept in JSON)."""
    return {figure.name: figure.value(parts[figure.name]) for figure in FIGURES}


def figures_of(inputs: Cell) -> dict[str, Value]:
    """Every figure of one row's cell, computed from scratch."""
    return values_of(parts_of(inputs))


def figures_markdown() -> str:
    """The figure table of docs/projections.md."""
    lines = ["| figure | unit | formula | fed by |", "|---|---|---|---|"]
    lines += [f"| `{f.name}` | {f.unit} | {f.formula} | {f.feeds} |" for f in FIGURES]
    return "\n".join(lines)
