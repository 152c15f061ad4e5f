"""Plain-data views of aggregates and events: what the application returns."""

from __future__ import annotations

from typing import Any

from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.metadata import WorkflowAggregate

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}


def item_view(item: ContentItem) -> dict[str, Any]:
    current = item.current_revision if item.revision_count else None
    return {
        "id": item.id,
        "version": item.version,
        "state": item.state.value,
        "review_stage": item.stage.value if item.stage else None,
        "department": item.department,
        "theme": item.theme,
        "format": item.format,
        "target_audience": item.target_audience,
        "expected_effect": item.expected_effect,
        "platforms": list(item.platforms),
        "campaign": item.campaign,
        "planned_publish_date": item.planned_publish_date,
        "planner_id": item.planner_id,
        "current_revision": dict(current) if current else None,
        "approvals": dict(item.approvals),
        "approved_revision": item.approved_revision,
        "schedule": dict(item.schedule),
        "scheduled_revision": item.scheduled_revision,
        "publications": [dict(p) for p in item.publications.values()],
        "latest_metrics": _latest_metrics(item),
        "closing_reason": item.closing_reason,
        "created_at": item.created_on,
        "modified_at": item.modified_on,
        "review_chain": list(item.review_chain),
        "review_policy_version": item.review_policy_version,
        "stage_hours": dict(item.stage_hours),
        "justifications": dict(item.justifications),
    }


def _latest_metrics(item: ContentItem) -> dict[str, dict[str, Any]]:
    """Per platform: the time of the latest observation, each counter's latest reported total,
    and the counters that observation corrected downwards (counter -> the earlier total)."""
    latest = {}
    for platform, observations in item.observations.items():
        totals: dict[str, int] = {}
        for observed_at in sorted(observations):  # ISO times in UTC: text order is time order
            totals |= observations[observed_at]
        last = max(observations)
        corrections = item.corrections.get(platform, {}).get(last, {})
        latest[platform] = {"observed_at": last, "counters": totals, "corrections": dict(corrections)}
    return latest


def event_view(event: WorkflowAggregate.Event) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "type": type(event).__name__,
        "recorded_at": event.timestamp,
        "metadata": dict(event.meta),
        "data": {k: v for k, v in event.__dict__.items() if k not in _ENVELOPE},
    }
