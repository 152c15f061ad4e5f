"""What the evaluation figures need to know of each content item, folded from its events.

`ItemFacts` is plain JSON data, so that the `quarterly_evaluation` projection
can keep it in a table between batches, and `reports reproduce` can build it
in memory from the log alone: both fold the same events with `fold`, and both
compute the figures from the facts with nm_workflow.application.figures.
Times are kept as ISO 8601 text in UTC, exactly as the events carry them.

Folding replaces the values of a member's facts, never changes one in place (a list or dict
folded into is a new one): a shallow copy of the facts taken before is the facts before, as
`quarterly_evaluation` needs them to move the member's parts (ADR 0073), without a deep copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypedDict

from eventsourcing.utils import get_topic

from nm_workflow.application import supervision_facts
from nm_workflow.application.ids import id_text
from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.review import next_stage, recorded_chain
from nm_workflow.domain.roles import Stage


class ItemFacts(TypedDict):
    item_id: str
    department: str
    platforms: list[str]
    planned_at: str
    """When the Planned event was recorded."""
    planned_publish_date: str | None
    closed: str | None
    """'withdrawn', 'cancelled' or None."""
    publications: dict[str, str]
    """platform -> published_at (the time the command reported)."""
    metrics: dict[str, dict[str, list[Any]]]
    """platform -> counter -> [observed_at, total] of the latest observation reporting it."""
    chain: list[str]
    """The review chain of the item's latest review request, as recorded (the policy's, ADR 0017)."""
    stage_hours: dict[str, int]
    """stage -> hours that stage may take, as recorded with the latest review request."""
    waiting: list[str] | None
    """[stage, since] of the review stage the item waits at, if any."""
    reviews: list[list[Any]]
    """[stage, since, decided_at, outcome, hours allowed or None] of every decided review stage;
    outcome 'approved' or 'changes_requested'."""
    changes: dict[str, int]
    """stage -> number of ChangesRequested."""
    revisions: int
    """Revisions drafted (Drafted events)."""
    findings: int
    """Compliance findings on those revisions, as the pre-check recorded them (0 for revisions
    drafted before the pre-check existed)."""
    first_pass: bool | None
    """True: fully approved before any change request; False: changes were requested first."""


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _planned(e: Any) -> ItemFacts:
    return ItemFacts(
        item_id=id_text(e.originator_id),
        department=e.department,
        platforms=list(e.platforms),
        planned_at=_iso(e.timestamp),
        planned_publish_date=None if e.planned_publish_date is None else e.planned_publish_date.isoformat(),
        closed=None,
        publications={},
        metrics={},
        chain=recorded_chain(None),
        stage_hours={},
        waiting=None,
        reviews=[],
        changes={},
        revisions=0,
        findings=0,
        first_pass=None,
    )


def _close_wait(facts: ItemFacts, e: Any, outcome: str | None) -> None:
    """End the open wait; decided ones (approved, changes requested) are kept for the figures."""
    if facts["waiting"] is not None and outcome is not None:
        stage, since = facts["waiting"]
        decided = [stage, since, _iso(e.timestamp), outcome, facts["stage_hours"].get(stage)]
        facts["reviews"] = [*facts["reviews"], decided]
    facts["waiting"] = None


def _review_requested(facts: ItemFacts, e: Any) -> None:
    _close_wait(facts, e, None)
    # Reviews requested before the policy was versioned record no chain: the seed policy's.
    facts["chain"] = recorded_chain(getattr(e, "chain", None))
    facts["stage_hours"] = dict(getattr(e, "stage_hours", None) or {})
    facts["waiting"] = [e.stage, _iso(e.timestamp)]


def _approved(facts: ItemFacts, e: Any) -> None:
    """An approval at the stage waited at; the next stage of the item's own chain follows, if any."""
    stage = None if facts["waiting"] is None else facts["waiting"][0]
    _close_wait(facts, e, "approved")
    following = None if stage is None else next_stage(facts["chain"], Stage(stage))
    if following is not None:
        facts["waiting"] = [following.value, _iso(e.timestamp)]
    elif facts["first_pass"] is None:
        facts["first_pass"] = True


def _changes_requested(facts: ItemFacts, e: Any) -> None:
    _close_wait(facts, e, "changes_requested")
    facts["changes"] = {**facts["changes"], e.stage: facts["changes"].get(e.stage, 0) + 1}
    if facts["first_pass"] is None:
        facts["first_pass"] = False


def _drafted(facts: ItemFacts, e: Any) -> None:
    _close_wait(facts, e, None)  # a new revision supersedes the wait
    facts["revisions"] += 1
    facts["findings"] += len(getattr(e, "findings", None) or [])


def _published(facts: ItemFacts, e: Any) -> None:
    facts["publications"] = {**facts["publications"], e.platform: _iso(e.published_at)}


def _metrics_recorded(facts: ItemFacts, e: Any) -> None:
    # Each counter keeps the total of the latest observation (by observed_at) that reported it:
    # an observation recorded late does not replace a newer one.
    latest = dict(facts["metrics"].get(e.platform, {}))
    for counter, total in e.counters.items():
        known = latest.get(counter)
        if known is None or datetime.fromisoformat(known[0]) <= e.observed_at:
            latest[counter] = [_iso(e.observed_at), total]
    facts["metrics"] = {**facts["metrics"], e.platform: latest}


def _closed(state: str) -> Callable[[ItemFacts, Any], None]:
    def apply(facts: ItemFacts, e: Any) -> None:
        _close_wait(facts, e, None)
        facts["closed"] = state

    return apply


_FOLDS: dict[str, Callable[[ItemFacts, Any], None]] = {
    "Drafted": _drafted,
    "ReviewRequested": _review_requested,
    "EditoriallyApproved": _approved,
    "DepartmentHeadApproved": _approved,
    "LegallyApproved": _approved,
    "ManagementApproved": _approved,
    "ChangesRequested": _changes_requested,
    "Published": _published,
    "MetricsRecorded": _metrics_recorded,
    "Withdrawn": _closed("withdrawn"),
    "Cancelled": _closed("cancelled"),
}
EVENT_NAMES: tuple[str, ...] = ("Planned", *_FOLDS)
"""The ContentItem events the figures are computed from."""
TOPICS: tuple[str, ...] = tuple(
    sorted([*(get_topic(getattr(ContentItem, name)) for name in EVENT_NAMES), *supervision_facts.TOPICS])
)
"""Every event the figures are computed from: content items', interactions', channel accounts', feedback's."""


def fold(facts: dict[str, Any], event: Any) -> str | None:
    """Apply one event to the facts of its aggregate (an item's: ItemFacts; the others':
    nm_workflow.application.supervision_facts); the aggregate's id, or None if not relevant."""
    name = type(event).__name__
    if not isinstance(event, ContentItem.Event):
        return supervision_facts.fold(facts, event)
    if name not in EVENT_NAMES:
        return None
    item_id = id_text(event.originator_id)
    if name == "Planned":
        facts[item_id] = _planned(event)
    elif item_id in facts:
        _FOLDS[name](facts[item_id], event)
    return item_id


def fold_all(events: Iterable[Any]) -> dict[str, Any]:
    """The facts of every aggregate the figures count, from events in log order."""
    facts: dict[str, Any] = {}
    for event in events:
        fold(facts, event)
    return facts
