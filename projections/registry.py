"""Every projection of the service, by name."""

from __future__ import annotations

from collections.abc import Sequence

from nm_workflow.application.errors import ApplicationError
from projections.audit_trail import AuditTrail
from projections.base import Projection
from projections.channel_growth import ChannelGrowth
from projections.compliance_findings import ComplianceFindings
from projections.evaluation_status import EvaluationStatus
from projections.feedback_log import FeedbackLog
from projections.interaction_log import InteractionLog
from projections.interaction_queue import InteractionQueue
from projections.item_metrics import ItemMetrics
from projections.item_status import ItemStatus
from projections.policy_versions import PolicyVersions
from projections.publication_log import PublicationLog
from projections.quarterly_evaluation import QuarterlyEvaluation
from projections.review_queue import ReviewQueue

PROJECTIONS: tuple[type[Projection], ...] = (
    ItemStatus,
    ReviewQueue,
    PublicationLog,
    ItemMetrics,
    AuditTrail,
    InteractionQueue,
    InteractionLog,
    ChannelGrowth,
    FeedbackLog,
    QuarterlyEvaluation,
    EvaluationStatus,
    PolicyVersions,
    ComplianceFindings,
)
NAMES: tuple[str, ...] = tuple(p.name for p in PROJECTIONS)


class UnknownProjection(ApplicationError):
    slug = "unknown-projection"
    title = "No projection has that name"


def select(names: Sequence[str] | None = None) -> list[type[Projection]]:
    """The projections named (all of them when None or empty), in a fixed order."""
    if not names:
        return list(PROJECTIONS)
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise UnknownProjection(f"Unknown projection(s) {', '.join(unknown)}; known: {', '.join(NAMES)}.")
    return [p for p in PROJECTIONS if p.name in names]
