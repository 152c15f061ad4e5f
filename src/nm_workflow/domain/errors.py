"""Every error the service raises on purpose descends from `WorkflowError`.

The whole hierarchy (domain and application) is listed in docs/errors.md;
the HTTP layer maps each class to a status and a problem `type` in one table.

    WorkflowError
    +-- DomainError                  a command breaks a rule of the policy
    |   +-- InvalidTransition        not allowed in the item's current state
    |   +-- RuleViolation            arguments contradict the item's data
    |   +-- DutySegregationViolation the actor may not take this decision
    |   (the workflow policy's and the compliance pre-check's errors: at the end)
    +-- ApplicationError             (nm_workflow.application.errors)
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of every error the service raises on purpose."""

    slug = "workflow-error"
    title = "Workflow error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class DomainError(WorkflowError):
    slug = "domain-error"
    title = "The policy does not allow this command"


# --- the command does not apply in the item's current state -----------------


class InvalidTransition(DomainError):
    slug = "invalid-transition"
    title = "Command not allowed in the current state"


class ItemClosed(InvalidTransition):
    slug = "item-closed"
    title = "The item is withdrawn or cancelled"


class NoDraft(InvalidTransition):
    slug = "no-draft"
    title = "There is no draft to review"


class NotInReview(InvalidTransition):
    slug = "not-in-review"
    title = "The item is not in review"


class WrongStage(InvalidTransition):
    slug = "wrong-review-stage"
    title = "The review is at another stage"


class NotApproved(InvalidTransition):
    slug = "not-approved"
    title = "The item has no fully approved revision"


class AlreadyPublished(InvalidTransition):
    slug = "already-published"
    title = "Already published"


class NotPublished(InvalidTransition):
    slug = "not-published"
    title = "Not published"


# --- arguments contradict the item's data ------------------------------------


class RuleViolation(DomainError):
    slug = "rule-violation"
    title = "The command contradicts the item"


class InvalidPlan(RuleViolation):
    slug = "invalid-plan"
    title = "The plan is incomplete"


class PlatformNotPlanned(RuleViolation):
    slug = "platform-not-planned"
    title = "The platform is not in the plan"


class StaleRevision(RuleViolation):
    slug = "stale-revision"
    title = "The revision is not the current one"


class ContentHashMismatch(RuleViolation):
    slug = "content-hash-mismatch"
    title = "The content hash does not match the approved revision"


class ConflictingObservation(RuleViolation):
    slug = "conflicting-observation"
    title = "A different observation was already recorded for that time"


class ObservedBeforePublication(RuleViolation):
    slug = "observed-before-publication"
    title = "Metrics cannot be observed before the content was published"


# --- the actor may not take this decision ------------------------------------


class DutySegregationViolation(DomainError):
    slug = "segregation-of-duties"
    title = "Segregation of duties forbids this"


class SelfApproval(DutySegregationViolation):
    slug = "self-approval"
    title = "Authors may not approve their own revision"


class RepeatedApproval(DutySegregationViolation):
    slug = "repeated-approval"
    title = "One person may approve only one stage of a revision"


# --- times the policy cannot believe (domain/timing.py) ----------------------


class TimeInTheFuture(RuleViolation):
    slug = "time-in-the-future"
    title = "A time reporting what happened lies in the future"


class PublishedBeforeApproval(RuleViolation):
    slug = "published-before-approval"
    title = "A publication cannot predate the approval that allowed it"


class OutsidePlanningHorizon(RuleViolation):
    slug = "outside-planning-horizon"
    title = "A planned time lies in the past or beyond the planning horizon"


# --- customer interactions (Ch. 4.3) ------------------------------------------


class InteractionResolved(InvalidTransition):
    slug = "interaction-resolved"
    title = "The interaction is resolved"


class InteractionNotResolved(InvalidTransition):
    slug = "interaction-not-resolved"
    title = "Only a resolved interaction can be reopened"


class AlreadyEscalated(InvalidTransition):
    slug = "already-escalated"
    title = "The interaction is already waiting for a department"


class NotEscalated(InvalidTransition):
    slug = "not-escalated"
    title = "The interaction is not escalated to a department"


class EscalationPending(InvalidTransition):
    slug = "escalation-pending"
    title = "The department the interaction was escalated to has not handled it yet"


class InvalidInteractionTime(RuleViolation):
    slug = "invalid-interaction-time"
    title = "The time contradicts the interaction"


class EscalationToSameDepartment(RuleViolation):
    slug = "escalation-to-same-department"
    title = "The interaction is already with that department"


# --- channel accounts (Ch. 4.4) ------------------------------------------------


class ChannelAccountExists(InvalidTransition):
    slug = "channel-account-exists"
    title = "That account is already registered"


class ChannelAccountRetired(InvalidTransition):
    slug = "channel-account-retired"
    title = "The account is retired"


# --- feedback (Ch. 6.3) ----------------------------------------------------------


class FeedbackClosed(InvalidTransition):
    slug = "feedback-closed"
    title = "The feedback is closed"


class FeedbackNotTriaged(InvalidTransition):
    slug = "feedback-not-triaged"
    title = "The feedback has no owning department yet"


class NoImprovementRecorded(InvalidTransition):
    slug = "no-improvement-recorded"
    title = "Feedback is adopted only once an improvement is recorded"


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


# --- the workflow policy (Ch. 8) and the compliance pre-check (Ch. 4.1, 4.2) ----


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


class UnknownFinding(RuleViolation):
    slug = "unknown-finding"
    title = "No such compliance finding on this revision"


class UnjustifiedFindings(RuleViolation):
    slug = "unjustified-findings"
    title = "Blocking compliance findings need a justification"


class UnacknowledgedFindings(RuleViolation):
    slug = "unacknowledged-findings"
    title = "Legal must acknowledge every compliance finding"


# --- webhook subscriptions (ADR 0034) ------------------------------------------


class InvalidWebhookUrl(RuleViolation):
    slug = "invalid-webhook-url"
    title = "The webhook URL cannot be delivered to"


class WebhookDeleted(InvalidTransition):
    slug = "webhook-deleted"
    title = "The webhook subscription is deleted"


class WebhookNotActive(InvalidTransition):
    slug = "webhook-not-active"
    title = "The webhook subscription is not in the state this command needs"
