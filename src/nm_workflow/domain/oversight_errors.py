"""The errors of evaluations (Ch. 6.1, 6.2) and of revising the workflow policy (Ch. 8).

Subclasses of the bases in domain/errors.py (their parent gives the HTTP status), listed in
docs/errors.md with the rest of the tree.
"""

from __future__ import annotations

from nm_workflow.domain.errors import DutySegregationViolation, InvalidTransition, RuleViolation

# --- evaluations (Ch. 6.1, 6.2) ----------------------------------------------


class InvalidPeriod(RuleViolation):
    slug = "invalid-evaluation-period"
    title = "The evaluated period is not valid"


class UnknownFigure(RuleViolation):
    slug = "unknown-figure"
    title = "A finding names a figure the evaluation view does not have"


class UnknownRecommendation(RuleViolation):
    slug = "unknown-recommendation"
    title = "The evaluation has no recommendation with that number"


class EvaluationSignedOff(InvalidTransition):
    slug = "evaluation-signed-off"
    title = "The evaluation is signed off"


class NothingToSignOff(InvalidTransition):
    slug = "nothing-to-sign-off"
    title = "An evaluation records at least one finding before sign-off"


class RecommendationClosed(InvalidTransition):
    slug = "recommendation-closed"
    title = "The recommendation is already closed"


class SignOffByOpener(DutySegregationViolation):
    slug = "sign-off-by-opener"
    title = "The person who opened an evaluation may not sign it off"


class NotSignedOff(InvalidTransition):
    slug = "evaluation-not-signed-off"
    title = "The evaluation is not signed off yet"


class NotTheOwnerDepartment(DutySegregationViolation):
    slug = "not-the-owner-department"
    title = "Only management or the head of the owner department closes a recommendation"


# --- the workflow policy (Ch. 8) ----------------------------------------------


class InvalidPolicy(RuleViolation):
    slug = "invalid-policy"
    title = "The proposed policy contradicts itself"


class ProposalOpen(InvalidTransition):
    slug = "policy-proposal-open"
    title = "Another policy revision is still open"


class NoOpenProposal(InvalidTransition):
    slug = "no-open-policy-proposal"
    title = "That policy revision is not open for review or approval"


class DepartmentReviewMissing(InvalidTransition):
    slug = "policy-review-missing"
    title = "A required department has not reviewed the policy revision"


class ObjectionOutstanding(InvalidTransition):
    slug = "policy-objection-outstanding"
    title = "A department objects to the policy revision"


class NotAReviewingDepartment(DutySegregationViolation):
    slug = "not-a-reviewing-department"
    title = "Your department does not review policy revisions"


class InvalidEffectiveTime(RuleViolation):
    slug = "invalid-effective-time"
    title = "The effective time is in the past or before the version in force"
