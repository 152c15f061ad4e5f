"""`policy_versions`: one row per version of the workflow policy (Ch. 8).

A version is proposed, reviewed by the required departments, then approved by
management (or withdrawn); version 1 is the seed, in force without approval.
`effective_to` is the `effective_from` of the next approved version, once one
is approved (NULL while the version is the last one approved).
"""

from __future__ import annotations

from nm_workflow.domain.workflow_policy import WorkflowPolicy
from projections.base import Projection, Recorded, handles
from projections.schema import Index, Table, col
from projections.sql import Tx

POLICY_VERSIONS = Table(
    "policy_versions",
    (
        col("version", "int"),
        col("status", "text"),
        col("reason", "text"),
        col("proposed_by", "text", null=True),
        col("proposed_at", "time"),
        col("required_departments", "json"),
        col("reviews", "json"),
        col("approved_by", "text", null=True),
        col("approved_at", "time", null=True),
        col("effective_from", "time", null=True),
        col("effective_to", "time", null=True),
        col("withdrawal_reason", "text", null=True),
        col("rules", "json"),
        col("position", "bigint"),
    ),
    primary_key=("version",),
    indexes=(Index("effective", ("effective_from",)),),
)


class PolicyVersions(Projection):
    name = "policy_versions"
    schema = (POLICY_VERSIONS,)

    @handles(WorkflowPolicy, "Seeded")
    def seeded(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        reason = "The seed policy: the rules as first written."
        self._insert(tx, r, 1, "seed", reason, None, e.seeded_at, [], e.rules)
        tx.execute(
            "UPDATE {policy_versions} SET approved_at = :at, effective_from = :at WHERE version = 1",
            {"at": e.seeded_at},
        )

    @handles(WorkflowPolicy, "RevisionProposed")
    def proposed(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        departments = list(e.required_departments)
        self._insert(
            tx, r, e.version, "proposed", e.reason, e.proposer_id, e.proposed_at, departments, e.rules
        )

    @handles(WorkflowPolicy, "DepartmentReviewed")
    def reviewed(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        row = tx.one("SELECT reviews FROM {policy_versions} WHERE version = :v", {"v": e.version})
        assert row is not None
        reviews = {rv["department"]: rv for rv in tx.dialect.json_out(row["reviews"])}
        reviews[e.department] = {
            "department": e.department, "decision": e.decision, "reasons": list(e.reasons),
            "reviewer_id": e.reviewer_id, "reviewed_at": e.reviewed_at,
        }  # fmt: skip
        tx.execute(
            "UPDATE {policy_versions} SET reviews = :reviews WHERE version = :v",
            {
                "v": e.version,
                "reviews": tx.dialect.json(sorted(reviews.values(), key=lambda x: x["department"])),
            },
        )

    @handles(WorkflowPolicy, "ManagementApproved")
    def approved(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        tx.execute(
            "UPDATE {policy_versions} SET effective_to = :from WHERE version < :v AND effective_to IS NULL "
            "AND status IN ('seed', 'approved')",
            {"v": e.version, "from": e.effective_from},
        )
        tx.execute(
            "UPDATE {policy_versions} SET status = 'approved', approved_by = :by, approved_at = :at, "
            "effective_from = :from WHERE version = :v",
            {"v": e.version, "by": e.approver_id, "at": e.approved_at, "from": e.effective_from},
        )

    @handles(WorkflowPolicy, "RevisionWithdrawn")
    def withdrawn(self, tx: Tx, r: Recorded) -> None:
        tx.execute(
            "UPDATE {policy_versions} SET status = 'withdrawn', withdrawal_reason = :reason "
            "WHERE version = :v",
            {"v": r.event.version, "reason": r.event.reason},
        )

    @staticmethod
    def _insert(
        tx: Tx, r: Recorded, version: int, status: str, reason: str, by: str | None, at: object,
        departments: list[str], rules: object,
    ) -> None:  # fmt: skip
        tx.execute(
            "INSERT INTO {policy_versions} (version, status, reason, proposed_by, proposed_at, "
            "required_departments, reviews, rules, position) "
            "VALUES (:v, :status, :reason, :by, :at, :departments, :reviews, :rules, :position)",
            {
                "v": version, "status": status, "reason": reason, "by": by, "at": at,
                "departments": tx.dialect.json(departments), "reviews": tx.dialect.json([]),
                "rules": tx.dialect.json(rules), "position": r.position,
            },
        )  # fmt: skip
