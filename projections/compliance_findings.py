"""`compliance_checks` and `compliance_findings`: the compliance pre-check of every revision.

Each drafted revision is checked against the lexicon of the policy version in
force (Ch. 4.1, 4.2): `compliance_checks` has one row per revision (with or
without findings), `compliance_findings` one row per finding, later completed
with marketing's justification (sent with the review request) and legal's
acknowledgement (sent with the legal approval). `compliance_item` is this
projection's bookkeeping (each item's department), not part of the contract.
"""

from __future__ import annotations

from nm_workflow.domain.content_item import ContentItem
from projections.base import Projection, Recorded, handles
from projections.rows import Appended, Keyed
from projections.schema import Index, Table, col
from projections.sql import Row, Tx

COMPLIANCE_ITEM = Table("compliance_item", (col("item_id", "uuid"), col("department", "text")), ("item_id",))
COMPLIANCE_CHECKS = Table(
    "compliance_checks",
    (
        col("item_id", "uuid"),
        col("revision", "int"),
        col("content_hash", "text"),
        col("policy_version", "int", null=True),
        col("department", "text"),
        col("drafted_by", "text", null=True),
        col("drafted_at", "time"),
        col("findings", "int"),
        col("blocking_findings", "int"),
        col("position", "bigint"),
    ),
    primary_key=("item_id", "revision"),
    indexes=(Index("drafted", ("drafted_at",)),),
)
COMPLIANCE_FINDINGS = Table(
    "compliance_findings",
    (
        col("item_id", "uuid"),
        col("revision", "int"),
        col("finding_id", "text"),
        col("content_hash", "text"),
        col("policy_version", "int", null=True),
        col("department", "text"),
        col("field", "text"),
        col("term", "text"),
        col("category", "text"),
        col("severity", "text"),
        col("start_offset", "int"),
        col("end_offset", "int"),
        col("matched", "text"),
        col("context", "text"),
        col("drafted_at", "time"),
        col("justification", "text", null=True),
        col("justified_by", "text", null=True),
        col("justified_at", "time", null=True),
        col("acknowledged_by", "text", null=True),
        col("acknowledged_at", "time", null=True),
    ),
    primary_key=("item_id", "revision", "finding_id"),
    indexes=(Index("term", ("term", "drafted_at")), Index("drafted", ("drafted_at", "department"))),
)


# Kept for a batch (projections/rows.py): read by item before the first event, written in bulk.
ITEMS = Keyed(COMPLIANCE_ITEM, ("item_id",))
CHECKS = Appended(COMPLIANCE_CHECKS)
FINDINGS = Keyed(COMPLIANCE_FINDINGS, ("item_id", "revision", "finding_id"))


class ComplianceFindings(Projection):
    name = "compliance_findings"
    schema = (COMPLIANCE_FINDINGS, COMPLIANCE_CHECKS, COMPLIANCE_ITEM)
    batch_tables = (ITEMS, CHECKS, FINDINGS)

    @handles(ContentItem, "Planned")
    def planned(self, tx: Tx, r: Recorded) -> None:
        ITEMS.put(tx, {"item_id": r.aggregate_id, "department": r.event.department})

    @handles(ContentItem, "Drafted")
    def drafted(self, tx: Tx, r: Recorded) -> None:
        item = ITEMS.get(tx, (r.aggregate_id,))
        if item is None:  # drafted before it was planned: nothing to check it against
            return
        e = r.event
        findings = list(getattr(e, "findings", None) or [])
        known = {
            "item_id": r.aggregate_id, "revision": e.revision, "content_hash": e.content_hash,
            "policy_version": getattr(e, "lexicon_version", None), "department": item["department"],
            "drafted_at": r.at,
        }  # fmt: skip
        CHECKS.add(tx, known | {
            "drafted_by": r.actor, "findings": len(findings), "position": r.position,
            "blocking_findings": sum(f["severity"] == "block" for f in findings),
        })  # fmt: skip
        for f in findings:
            FINDINGS.put(tx, known | {
                "finding_id": f["id"], "field": f["field"], "term": f["term"], "category": f["category"],
                "severity": f["severity"], "start_offset": f["start"], "end_offset": f["end"],
                "matched": f["matched"], "context": f["context"], "justification": None,
                "justified_by": None, "justified_at": None, "acknowledged_by": None, "acknowledged_at": None,
            })  # fmt: skip

    @handles(ContentItem, "ReviewRequested")
    def review_requested(self, tx: Tx, r: Recorded) -> None:
        for finding, text in (getattr(r.event, "justifications", None) or {}).items():
            _complete(tx, r, finding, {"justification": text, "justified_by": r.actor, "justified_at": r.at})

    @handles(ContentItem, "LegallyApproved")
    def legally_approved(self, tx: Tx, r: Recorded) -> None:
        for finding in getattr(r.event, "acknowledged_findings", None) or []:
            _complete(tx, r, finding, {"acknowledged_by": r.event.reviewer_id, "acknowledged_at": r.at})


def _complete(tx: Tx, r: Recorded, finding: str, change: Row) -> None:
    """The finding of the event's revision with `change` (no such finding: nothing)."""
    row = FINDINGS.get(tx, (r.aggregate_id, r.event.revision, finding))
    if row is not None:
        FINDINGS.put(tx, row | change)
