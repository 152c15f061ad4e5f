"""The Interaction aggregate: a comment, message, mention or complaint (Ch. 4.3).

received -> responded -> (escalated -> handled) -> resolved -> reopened -> ...
Customer service answers every interaction within the first-response deadline;
a negative one is escalated to a department or resolved within the
negative-handling deadline ("必要时可转交相关部门处理"). Both deadlines are fixed
on the interaction when it arrives. The author's handle and the text are
personal data: the aggregate holds them sealed (encrypted by the application
with a key of this interaction alone), so that erasing the key erases them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from nm_workflow.domain.content import as_utc
from nm_workflow.domain.interaction_errors import (
    AlreadyEscalated,
    EscalationPending,
    EscalationToSameDepartment,
    InteractionNotResolved,
    InteractionResolved,
    NotEscalated,
)
from nm_workflow.domain.interaction_values import (
    InteractionDeadlines,
    InteractionKind,
    InteractionState,
    Sentiment,
    interaction_id,
    not_before,
)
from nm_workflow.domain.metadata import WorkflowAggregate


class Interaction(WorkflowAggregate):
    @staticmethod
    def create_id(platform: str, platform_id: str) -> UUID:
        return interaction_id(platform, platform_id)

    @event("Received")
    def __init__(
        self,
        *,
        platform: str,
        platform_id: str,
        kind: InteractionKind,
        text_sealed: str,
        author_handle_sealed: str,
        received_at: datetime,
        item_id: UUID | None,
        sentiment: Sentiment,
        sentiment_source: str,
        department: str,
        response_due: datetime,
        handling_due: datetime | None,
    ) -> None:
        self.platform, self.platform_id, self.kind = platform, platform_id, InteractionKind(kind)
        self.text_sealed: str | None = text_sealed
        self.author_handle_sealed: str | None = author_handle_sealed
        self.received_at, self.item_id = received_at, item_id
        self.sentiment, self.sentiment_source = Sentiment(sentiment), sentiment_source
        self.department = department
        self.response_due: datetime | None = response_due
        """When the next response is due; None while none is owed."""
        self.handling_due: datetime | None = handling_due
        """When a negative interaction must be escalated or resolved; None once it was, or if not negative."""
        self.state = InteractionState.RECEIVED
        self.first_responded_at: datetime | None = None
        self.responses: list[dict[str, str | datetime]] = []
        self.escalations: list[dict[str, str | datetime | None]] = []
        self.outcome: str | None = None
        self.erased = False

    @classmethod
    def receive(cls, *, deadlines: InteractionDeadlines, **received: Any) -> Interaction:
        """Ch. 4.3: an interaction arrives; its deadlines are fixed now, from the time it was received.

        `received`: the arguments of the Received event but for the due times.
        """
        received_at = as_utc(received["received_at"], "time received")
        sentiment = Sentiment(received["sentiment"])
        return cls(
            **received
            | {"received_at": received_at, "sentiment": sentiment, "kind": InteractionKind(received["kind"])},
            response_due=received_at + deadlines.first_response,
            handling_due=received_at + deadlines.negative_handling
            if sentiment is Sentiment.NEGATIVE
            else None,
        )

    # --- commands -----------------------------------------------------------------

    def respond(self, *, reply_text: str, replied_at: datetime, responder_id: str) -> None:
        self._require_open()
        replied_at = not_before(replied_at, self.received_at, "reply time")
        self._responded(reply_text=reply_text, replied_at=replied_at, responder_id=responder_id)

    def escalate(self, *, department: str, reason: str, escalated_at: datetime) -> None:
        self._require_open()
        if self.state is InteractionState.ESCALATED:
            raise AlreadyEscalated(f"The interaction is already waiting for {self.department}.")
        if department == self.department:
            raise EscalationToSameDepartment(f"The interaction is already with {department}.")
        escalated_at = not_before(escalated_at, self.received_at, "escalation time")
        self._escalated(department=department, reason=reason, escalated_at=escalated_at)

    def handle(self, *, note: str, handled_at: datetime, handler_id: str) -> None:
        # Only the department it was escalated to gets here: the write path checks the caller's
        # department against `department` (ADR 0016).
        self._require_open()
        if self.state is not InteractionState.ESCALATED:
            raise NotEscalated(f"The interaction is {self.state}; only an escalated one is handled.")
        handled_at = not_before(handled_at, self.received_at, "handling time")
        self._handled_by_department(
            department=self.department, note=note, handled_at=handled_at, handler_id=handler_id
        )

    def resolve(self, *, outcome: str, resolved_at: datetime) -> None:
        self._require_open()
        if self.state is InteractionState.ESCALATED:
            raise EscalationPending(f"{self.department} has not recorded how it handled the interaction.")
        resolved_at = not_before(resolved_at, self.received_at, "resolution time")
        self._resolved(outcome=outcome, resolved_at=resolved_at)

    def reopen(self, *, reason: str, reopened_at: datetime, deadlines: InteractionDeadlines) -> None:
        if self.state is not InteractionState.RESOLVED:
            raise InteractionNotResolved(f"The interaction is {self.state}, not resolved.")
        reopened_at = not_before(reopened_at, self.received_at, "reopening time")
        self._reopened(
            reason=reason, reopened_at=reopened_at, response_due=reopened_at + deadlines.first_response
        )

    def erase_personal_data(self, *, reason: str) -> bool:
        """Record that the author's handle and text were erased; False when they already were."""
        if self.erased:
            return False
        self._personal_data_erased(reason=reason)
        return True

    # State is kept as a plain string so that a snapshot round-trips through JSON.
    @property
    def state(self) -> InteractionState:
        return InteractionState(self._state)

    @state.setter
    def state(self, value: InteractionState) -> None:
        self._state = value.value

    def _require_open(self) -> None:
        if self.state is InteractionState.RESOLVED:
            raise InteractionResolved("The interaction is resolved; reopen it first.")

    # --- events ---------------------------------------------------------------------

    @event("Responded")
    def _responded(self, reply_text: str, replied_at: datetime, responder_id: str) -> None:
        self.responses.append({"reply_text": reply_text, "replied_at": replied_at, "by": responder_id})
        if self.first_responded_at is None:
            self.first_responded_at = replied_at
        self.response_due = None
        if self.state in (InteractionState.RECEIVED, InteractionState.REOPENED):
            self.state = InteractionState.RESPONDED

    @event("Escalated")
    def _escalated(self, department: str, reason: str, escalated_at: datetime) -> None:
        self.escalations.append(
            {"department": department, "reason": reason, "escalated_at": escalated_at, "note": None}
        )
        self.department, self.state, self.handling_due = department, InteractionState.ESCALATED, None

    @event("HandledByDepartment")
    def _handled_by_department(
        self, department: str, note: str, handled_at: datetime, handler_id: str
    ) -> None:
        self.escalations[-1] |= {"note": note, "handled_at": handled_at, "handled_by": handler_id}
        self.state = InteractionState.HANDLED

    @event("Resolved")
    def _resolved(self, outcome: str, resolved_at: datetime) -> None:
        self.state, self.outcome = InteractionState.RESOLVED, outcome
        self.response_due = self.handling_due = None

    @event("Reopened")
    def _reopened(self, reason: str, reopened_at: datetime, response_due: datetime) -> None:
        self.state, self.outcome, self.response_due = InteractionState.REOPENED, None, response_due

    @event("PersonalDataErased")
    def _personal_data_erased(self, reason: str) -> None:
        self.erased, self.text_sealed, self.author_handle_sealed = True, None, None
