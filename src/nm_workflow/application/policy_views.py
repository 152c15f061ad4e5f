"""Plain-data views of the workflow policy's versions."""

from __future__ import annotations

import json
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


def diff_rules(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed from `old` rules to `new`, one readable line per change ([] when none)."""
    lines = [
        f"{key}: {rule_text(old.get(key))} -> {rule_text(new.get(key))}"
        for key in sorted((set(old) | set(new)) - {"lexicon", "clauses"})
        if old.get(key) != new.get(key)
    ]
    return (
        lines + _diff_lexicon(old["lexicon"], new["lexicon"]) + _diff_clauses(old["clauses"], new["clauses"])
    )


def _diff_lexicon(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before = {c["name"]: c for c in old["categories"]}
    after = {c["name"]: c for c in new["categories"]}
    lines = [f"lexicon: category {n} removed" for n in sorted(set(before) - set(after))]
    lines += [
        f"lexicon: category {n} added ({after[n]['severity']}, {len(after[n]['terms'])} terms)"
        for n in sorted(set(after) - set(before))
    ]
    for name in sorted(set(before) & set(after)):
        was, now = before[name], after[name]
        lines += [
            f"lexicon: {name} {field}: {was[field]} -> {now[field]}"
            for field in ("severity", "legal_basis")
            if was[field] != now[field]
        ]
        for sign, terms in (("+", [t for t in now["terms"] if t not in was["terms"]]),
                            ("-", [t for t in was["terms"] if t not in now["terms"]])):  # fmt: skip
            if terms:
                lines.append(f"lexicon: {name} {sign} {', '.join(terms)}")
    return lines


def _diff_clauses(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    before = {c["chapter"]: c for c in old}
    after = {c["chapter"]: c for c in new}
    return [
        f"clauses: chapter {chapter} "
        + ("removed" if chapter not in after else "added" if chapter not in before else "changed")
        for chapter in sorted(set(before) | set(after))
        if before.get(chapter) != after.get(chapter)
    ]


def rule_text(value: Any) -> str:
    """A rule's value as compact JSON text, Chinese as is."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
