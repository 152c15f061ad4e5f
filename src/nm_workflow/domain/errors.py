"""Every error the service raises on purpose descends from `WorkflowError`.

The whole hierarchy (domain and application) is listed in docs/errors.md;
the HTTP layer maps each class to a status and a problem `type` in one table.

    WorkflowError
    +-- DomainError                  a command breaks a rule of the policy
    |   +-- InvalidTransition        not allowed in the item's current state
    |   +-- RuleViolation            arguments contradict the item's data
    |   +-- DutySegregationViolation the actor may not take this decision
    +-- ApplicationError             (nm_workflow.application.errors)

This module holds the bases and the errors of content items (with the compliance pre-check of
their revisions) and of webhook subscriptions; the other aggregates' errors subclass the same
bases, by concern: domain/interaction_errors.py (interactions, channel accounts, feedback) and
domain/oversight_errors.py (evaluations, revisions of the workflow policy).
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


# --- the compliance pre-check of a revision (Ch. 4.1, 4.2) ------------------


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
