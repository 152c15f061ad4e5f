"""The Interaction aggregate (Ch. 4.3): every transition and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nm_workflow.domain.errors import RuleViolation
from nm_workflow.domain.interaction import Interaction
from nm_workflow.domain.interaction_errors import (
    AlreadyEscalated,
    EscalationPending,
    EscalationToSameDepartment,
    InteractionNotResolved,
    InteractionResolved,
    InvalidInteractionTime,
    NotEscalated,
)
from nm_workflow.domain.interaction_values import (
    InteractionDeadlines,
    InteractionKind,
    InteractionState,
    Sentiment,
    interaction_id,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINES = InteractionDeadlines(first_response=timedelta(hours=24), negative_handling=timedelta(hours=8))


def received(sentiment: Sentiment = Sentiment.NEGATIVE, **overrides: Any) -> Interaction:
    facts: dict[str, Any] = {
        "platform": "weibo", "platform_id": "c-1", "kind": InteractionKind.COMPLAINT,
        "text_sealed": "sealed-text", "author_handle_sealed": "sealed-author", "received_at": T0,
        "item_id": None, "sentiment": sentiment, "sentiment_source": "caller",
        "department": "customer_service", "deadlines": DEADLINES, **overrides,
    }  # fmt: skip
    return Interaction.receive(**facts)


def escalated() -> Interaction:
    interaction = received()
    interaction.escalate(department="logistics", reason="lost parcel", escalated_at=T0 + timedelta(hours=1))
    return interaction


def resolved() -> Interaction:
    interaction = received()
    interaction.resolve(outcome="refunded", resolved_at=T0 + timedelta(hours=2))
    return interaction


def events(interaction: Interaction) -> list[str]:
    return [type(e).__name__ for e in interaction.collect_events()]


def test_the_id_derives_from_platform_and_platform_id() -> None:
    assert received().id == interaction_id("weibo", "c-1")
    assert interaction_id("weibo", "c-1") != interaction_id("douyin", "c-1")
    assert interaction_id("a", "b\x1fc") != interaction_id("a\x1fb", "c")


def test_a_negative_interaction_gets_both_deadlines_fixed_at_receipt() -> None:
    interaction = received(received_at=datetime(2026, 3, 2, 17, 0, tzinfo=UTC))
    assert interaction.state is InteractionState.RECEIVED
    assert interaction.response_due == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    assert interaction.handling_due == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    assert received(Sentiment.POSITIVE).handling_due is None


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(RuleViolation):
        received(received_at=datetime(2026, 3, 2, 9, 0))


def test_a_response_is_recorded_once_as_first_and_clears_the_response_deadline() -> None:
    interaction = received()
    interaction.respond(reply_text="sorry", replied_at=T0 + timedelta(hours=1), responder_id="cara")
    interaction.respond(reply_text="update", replied_at=T0 + timedelta(hours=3), responder_id="cara")
    assert interaction.state is InteractionState.RESPONDED
    assert interaction.first_responded_at == T0 + timedelta(hours=1)
    assert interaction.response_due is None
    assert interaction.handling_due is not None, "answering does not handle a negative interaction"
    assert events(interaction) == ["Received", "Responded", "Responded"]


def test_a_reply_before_the_interaction_was_received_is_refused() -> None:
    with pytest.raises(InvalidInteractionTime):
        received().respond(reply_text="hi", replied_at=T0 - timedelta(seconds=1), responder_id="cara")


def test_escalation_hands_the_interaction_to_the_department_and_meets_the_handling_deadline() -> None:
    interaction = escalated()
    assert (interaction.state, interaction.department) == (InteractionState.ESCALATED, "logistics")
    assert interaction.handling_due is None
    with pytest.raises(AlreadyEscalated):
        interaction.escalate(department="legal", reason="again", escalated_at=T0 + timedelta(hours=2))


def test_escalation_to_the_department_it_is_with_is_refused() -> None:
    with pytest.raises(EscalationToSameDepartment):
        received().escalate(department="customer_service", reason="x", escalated_at=T0)


def test_handling_records_who_handled_it_once() -> None:
    # Which department may handle it is the write path's check (ADR 0016): tests/e2e.
    interaction = escalated()
    interaction.handle(note="re-sent", handled_at=T0 + timedelta(hours=3), handler_id="lena")
    assert interaction.state is InteractionState.HANDLED
    assert interaction.escalations[-1]["handled_by"] == "lena"
    with pytest.raises(NotEscalated):
        interaction.handle(note="n", handled_at=T0, handler_id="lena")


def test_handling_without_escalation_is_refused() -> None:
    with pytest.raises(NotEscalated):
        received().handle(note="n", handled_at=T0, handler_id="lena")


def test_resolving_waits_for_the_department_escalated_to() -> None:
    with pytest.raises(EscalationPending):
        escalated().resolve(outcome="done", resolved_at=T0 + timedelta(hours=4))


def test_a_resolved_interaction_takes_no_step_until_reopened() -> None:
    interaction = resolved()
    assert (interaction.state, interaction.outcome) == (InteractionState.RESOLVED, "refunded")
    assert interaction.handling_due is None
    later = T0 + timedelta(hours=5)
    with pytest.raises(InteractionResolved):
        interaction.respond(reply_text="hi", replied_at=later, responder_id="cara")
    with pytest.raises(InteractionResolved):
        interaction.escalate(department="legal", reason="x", escalated_at=later)
    with pytest.raises(InteractionResolved):
        interaction.resolve(outcome="again", resolved_at=later)


def test_reopening_owes_a_new_response_from_the_time_reopened() -> None:
    interaction = resolved()
    reopened_at = T0 + timedelta(days=2)
    interaction.reopen(reason="empty parcel", reopened_at=reopened_at, deadlines=DEADLINES)
    assert interaction.state is InteractionState.REOPENED
    assert interaction.response_due == reopened_at + timedelta(hours=24)
    assert interaction.outcome is None
    interaction.respond(reply_text="sorry", replied_at=reopened_at, responder_id="cara")
    assert interaction.state.value == "responded"
    with pytest.raises(InteractionNotResolved):
        interaction.reopen(reason="x", reopened_at=reopened_at, deadlines=DEADLINES)


def test_erasure_drops_the_sealed_fields_once() -> None:
    interaction = received()
    assert interaction.erase_personal_data(reason="user request") is True
    assert (interaction.text_sealed, interaction.author_handle_sealed, interaction.erased) == (
        None,
        None,
        True,
    )
    assert interaction.erase_personal_data(reason="again") is False
    assert events(interaction) == ["Received", "PersonalDataErased"]
