"""`evaluation_status`: one row per evaluation; `evaluation_recommendations`: one row per recommendation.

What management's queue needs (Ch. 6.1, 6.2): evaluations not signed off yet,
recommendations not closed (overdue once their due date has passed, which
depends on the day you ask, so it is not stored), and when the last periodic
check ended. The frozen figures stay in the evaluation itself
(`GET /evaluations/{id}`); this table only says whether and when it was signed off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nm_workflow.application.store_errors import translated_errors
from nm_workflow.domain.evaluation import Evaluation
from projections.base import Projection, Recorded, handles
from projections.rows import Keyed
from projections.schema import Index, Table, col
from projections.sql import Tx

if TYPE_CHECKING:  # the read side imports the registry, which imports this module
    from projections.readside import ReadSide

STATUS = Table(
    "evaluation_status",
    (
        col("evaluation_id", "uuid"), col("kind", "text"), col("period_first", "date"),
        col("period_last", "date"), col("departments", "json"), col("platforms", "json"),
        col("opened_by", "text"), col("opened_at", "time"), col("findings", "int"),
        col("recommendations", "int"), col("recommendations_open", "int"),
        col("signed_off_by", "text", null=True), col("signed_off_at", "time", null=True),
        col("signed_position", "bigint", null=True), col("position", "bigint"),
    ),
    primary_key=("evaluation_id",),
    indexes=(Index("kind", ("kind", "period_last")),),
)  # fmt: skip
RECOMMENDATIONS = Table(
    "evaluation_recommendations",
    (
        col("evaluation_id", "uuid"), col("number", "int"), col("text", "text"),
        col("owner_department", "text"), col("due_date", "date"), col("finding", "int", null=True),
        col("made_by", "text", null=True), col("made_at", "time"), col("closed_at", "time", null=True),
        col("outcome", "text", null=True), col("policy_proposal_id", "text", null=True),
        col("feedback_id", "text", null=True),
    ),
    primary_key=("evaluation_id", "number"),
    indexes=(Index("open", ("closed_at", "due_date")),),
)  # fmt: skip


EVALUATIONS = Keyed(STATUS, ("evaluation_id",))
RECOMMENDED = Keyed(RECOMMENDATIONS, ("evaluation_id", "number"))


class EvaluationStatus(Projection):
    name = "evaluation_status"
    schema = (STATUS, RECOMMENDATIONS)
    batch_tables = (EVALUATIONS, RECOMMENDED)

    @handles(Evaluation, "Opened")
    def opened(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        EVALUATIONS.put(tx, {
            "evaluation_id": r.aggregate_id, "kind": e.kind, "period_first": e.period_first,
            "period_last": e.period_last, "departments": e.departments, "platforms": e.platforms,
            "opened_by": e.opener_id, "opened_at": r.at, "findings": 0, "recommendations": 0,
            "recommendations_open": 0, "signed_off_by": None, "signed_off_at": None,
            "signed_position": None, "position": r.position,
        })  # fmt: skip

    @handles(Evaluation, "FindingsRecorded")
    def findings_recorded(self, tx: Tx, r: Recorded) -> None:
        self._count(tx, r, findings=1)

    @handles(Evaluation, "RecommendationMade")
    def recommendation_made(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        RECOMMENDED.put(tx, {
            "evaluation_id": r.aggregate_id, "number": e.number, "text": e.text,
            "owner_department": e.owner_department, "due_date": e.due_date, "finding": e.finding,
            "made_by": e.made_by, "made_at": r.at, "closed_at": None, "outcome": None,
            "policy_proposal_id": None, "feedback_id": None,
        })  # fmt: skip
        self._count(tx, r, recommendations=1, recommendations_open=1)

    @handles(Evaluation, "RecommendationClosed")
    def recommendation_closed(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        recommendation = RECOMMENDED.get(tx, (r.aggregate_id, e.number))
        if recommendation is not None:
            RECOMMENDED.put(tx, recommendation | {
                "closed_at": r.at, "outcome": e.outcome, "policy_proposal_id": e.policy_proposal_id,
                "feedback_id": e.feedback_id,
            })  # fmt: skip
        self._count(tx, r, recommendations_open=-1)

    @handles(Evaluation, "SignedOff")
    def signed_off(self, tx: Tx, r: Recorded) -> None:
        self._change(tx, r, {"signed_off_by": r.event.signed_off_by, "signed_off_at": r.at,
                             "signed_position": r.event.position})  # fmt: skip

    @classmethod
    def _count(cls, tx: Tx, r: Recorded, **added: int) -> None:
        evaluation = EVALUATIONS.get(tx, (r.aggregate_id,))
        if evaluation is not None:
            cls._change(tx, r, {name: evaluation[name] + n for name, n in added.items()})

    @staticmethod
    def _change(tx: Tx, r: Recorded, changes: dict[str, Any]) -> None:
        """Change the evaluation's row (when there is one), and say which event it reflects."""
        evaluation = EVALUATIONS.get(tx, (r.aggregate_id,))
        if evaluation is not None:
            EVALUATIONS.put(tx, evaluation | changes | {"position": r.position})


def read_queue(read_side: ReadSide) -> dict[str, list[dict[str, Any]]]:
    """Open evaluations (oldest period first), open recommendations (earliest due first), and the
    latest periodic check (a list of at most one row)."""
    tables = read_side.projections[EvaluationStatus.name].live_tables()
    with translated_errors(), read_side.db.read(tables) as tx:
        open_evaluations = tx.all(
            "SELECT * FROM {evaluation_status} WHERE signed_off_at IS NULL "
            "ORDER BY period_last, evaluation_id"
        )
        open_recommendations = tx.all(
            "SELECT * FROM {evaluation_recommendations} WHERE closed_at IS NULL "
            "ORDER BY due_date, evaluation_id, number"
        )
        last_check = tx.all(
            "SELECT * FROM {evaluation_status} WHERE kind = 'periodic_check' "
            "ORDER BY period_last DESC, evaluation_id LIMIT 1"
        )
        return {
            "evaluations": [STATUS.decode(tx.dialect, r) for r in open_evaluations],
            "recommendations": [RECOMMENDATIONS.decode(tx.dialect, r) for r in open_recommendations],
            "last_periodic_check": [STATUS.decode(tx.dialect, r) for r in last_check],
        }
