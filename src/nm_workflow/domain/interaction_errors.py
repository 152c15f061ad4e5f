"""The errors of customer interactions (Ch. 4.3), channel accounts (Ch. 4.4) and feedback (Ch. 6.3).

Each subclasses a base of domain/errors.py, whose HTTP status it takes; docs/errors.md has its page.
"""

from __future__ import annotations

from nm_workflow.domain.errors import InvalidTransition, RuleViolation

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
