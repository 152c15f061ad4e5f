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
from projections.schema import Index, Table, col
from projections.sql import Tx

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


class ComplianceFindings(Projection):
    name = "compliance_findings"
    schema = (COMPLIANCE_FINDINGS, COMPLIANCE_CHECKS, COMPLIANCE_ITEM)

    @handles(ContentItem, "Planned")
    def planned(self, tx: Tx, r: Recorded) -> None:
        tx.execute(
            "INSERT INTO {compliance_item} (item_id, department) VALUES (:id, :department)",
            {"id": r.aggregate_id, "department": r.event.department},
        )

    @handles(ContentItem, "Drafted")
    def drafted(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        findings = list(getattr(e, "findings", None) or [])
        known = {"id": r.aggregate_id, "revision": e.revision, "hash": e.content_hash, "at": r.at}
        known["version"] = getattr(e, "lexicon_version", None)
        tx.execute(
            "INSERT INTO {compliance_checks} (item_id, revision, content_hash, policy_version, department, "
            "drafted_by, drafted_at, findings, blocking_findings, position) "
            "SELECT item_id, :revision, :hash, :version, department, :by, :at, :findings, :blocking, "
            ":position "
            "FROM {compliance_item} WHERE item_id = :id",
            known | {
                "by": r.actor, "findings": len(findings), "position": r.position,
                "blocking": sum(f["severity"] == "block" for f in findings),
            },
        )  # fmt: skip
        for f in findings:
            tx.execute(
                "INSERT INTO {compliance_findings} (item_id, revision, finding_id, content_hash, "
                "policy_version, department, field, term, category, severity, start_offset, end_offset, "
                "matched, context, drafted_at) "
                "SELECT item_id, :revision, :finding, :hash, :version, department, :field, :term, "
                ":category, :severity, :start, :end, :matched, :context, :at "
                "FROM {compliance_item} WHERE item_id = :id",
                known | {
                    "finding": f["id"], "field": f["field"], "term": f["term"], "category": f["category"],
                    "severity": f["severity"], "start": f["start"], "end": f["end"],
                    "matched": f["matched"], "context": f["context"],
                },
            )  # fmt: skip

    @handles(ContentItem, "ReviewRequested")
    def review_requested(self, tx: Tx, r: Recorded) -> None:
        for finding, text in (getattr(r.event, "justifications", None) or {}).items():
            tx.execute(
                "UPDATE {compliance_findings} SET justification = :text, justified_by = :by, "
                "justified_at = :at WHERE item_id = :id AND revision = :revision AND finding_id = :finding",
                {
                    "id": r.aggregate_id, "revision": r.event.revision, "finding": finding, "text": text,
                    "by": r.actor, "at": r.at,
                },
            )  # fmt: skip

    @handles(ContentItem, "LegallyApproved")
    def legally_approved(self, tx: Tx, r: Recorded) -> None:
        for finding in getattr(r.event, "acknowledged_findings", None) or []:
            tx.execute(
                "UPDATE {compliance_findings} SET acknowledged_by = :by, acknowledged_at = :at "
                "WHERE item_id = :id AND revision = :revision AND finding_id = :finding",
                {
                    "id": r.aggregate_id, "revision": r.event.revision, "finding": finding,
                    "by": r.event.reviewer_id, "at": r.at,
                },
            )  # fmt: skip
