"""Plain-data views of aggregates and events: what the application returns."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from nm_workflow.domain.content_item import ContentItem
from nm_workflow.domain.metadata import WorkflowAggregate

ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "meta", "originator_topic"})
"""An event's envelope (id, version, time, metadata, topic): shown apart from what it recorded."""
SECRETS: Mapping[str, frozenset[str]] = MappingProxyType({"ApiKey": frozenset({"secret_hash"})})
"""Event fields no reader is ever shown, by aggregate type: a hash of a credential is not audit data."""


@cache
def hidden_fields(event_class: type) -> frozenset[str]:
    """The fields of an event class left out of every view of what it recorded: the envelope
    and its aggregate type's SECRETS (the type is the class's qualified name without its last
    part, e.g. `ApiKey` for `ApiKey.KeyIssued`). Worked out once per class."""
    aggregate_type = event_class.__qualname__.rpartition(".")[0]
    return ENVELOPE | SECRETS.get(aggregate_type, frozenset())


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
    """One event: version, type, recorded_at, metadata and its data without `hidden_fields`."""
    hidden = hidden_fields(type(event))
    return {
        "version": event.originator_version,
        "type": type(event).__name__,
        "recorded_at": event.timestamp,
        "metadata": dict(event.meta),
        "data": {k: v for k, v in event.__dict__.items() if k not in hidden},
    }
