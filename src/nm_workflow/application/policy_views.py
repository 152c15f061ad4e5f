"""Plain-data views of the workflow policy's versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nm_workflow.domain.workflow_policy import PolicyVersion, WorkflowPolicy


def version_view(policy: WorkflowPolicy, version: PolicyVersion, now: datetime) -> dict[str, Any]:
    """One version, with when it is in force: [effective_from, effective_to), and whether it is now."""
    later = [
        v["effective_from"]
        for v in policy.versions[version["version"] :]
        if v["status"] == "approved" and v["effective_from"] is not None
    ]
    return {
        "version": version["version"],
        "status": version["status"],
        "in_force": policy.in_force(now)["version"] == version["version"],
        "effective_from": version["effective_from"],
        "effective_to": min(later) if later and version["effective_from"] is not None else None,
        "reason": version["reason"],
        "proposed_by": version["proposed_by"],
        "proposed_at": version["proposed_at"],
        "required_departments": list(version["required_departments"]),
        "reviews": [dict(r) for r in version["reviews"].values()],
        "approved_by": version["approved_by"],
        "approved_at": version["approved_at"],
        "withdrawal_reason": version["withdrawal_reason"],
        "rules": version["rules"],
        "aggregate_version": policy.version,
    }
