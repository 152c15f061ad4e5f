"""Plain-data views of interactions, with the personal fields unsealed while their key exists."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from nm_workflow.application.personal_data import KeyVault, unseal
from nm_workflow.application.views import event_view
from nm_workflow.domain.interaction import Interaction
from nm_workflow.domain.metadata import WorkflowAggregate

SEALED_FIELDS = {"text_sealed": "text", "author_handle_sealed": "author_handle"}


def sealing_context(interaction_id: UUID, field: str) -> str:
    """What a sealed value is bound to: its interaction and field (a value moved elsewhere won't open)."""
    return f"{interaction_id}:{field}"


def interaction_view(interaction: Interaction, vault: KeyVault) -> dict[str, Any]:
    key = None if interaction.erased else vault.find(interaction.id)
    personal = {
        plain: unseal(key, getattr(interaction, sealed), sealing_context(interaction.id, plain))
        for sealed, plain in SEALED_FIELDS.items()
    }
    return {
        "id": interaction.id,
        "version": interaction.version,
        "platform": interaction.platform,
        "platform_id": interaction.platform_id,
        "kind": interaction.kind.value,
        **personal,
        "personal_data_erased": interaction.erased,
        "received_at": interaction.received_at,
        "item_id": interaction.item_id,
        "sentiment": interaction.sentiment.value,
        "sentiment_source": interaction.sentiment_source,
        "department": interaction.department,
        "state": interaction.state.value,
        "response_due": interaction.response_due,
        "handling_due": interaction.handling_due,
        "first_responded_at": interaction.first_responded_at,
        "responses": [dict(r) for r in interaction.responses],
        "escalations": [dict(e) for e in interaction.escalations],
        "outcome": interaction.outcome,
        "created_at": interaction.created_on,
        "modified_at": interaction.modified_on,
    }


def interaction_event_view(event: WorkflowAggregate.Event, vault: KeyVault) -> dict[str, Any]:
    """An event as `event_view` shows it, the sealed fields replaced by their plaintext (None once erased)."""
    view = event_view(event)
    data = view["data"]
    if not SEALED_FIELDS.keys() & data.keys():
        return view
    interaction_id = UUID(str(event.originator_id))
    key = vault.find(interaction_id)
    for sealed, plain in SEALED_FIELDS.items():
        data[plain] = unseal(key, data.pop(sealed, None), sealing_context(interaction_id, plain))
    return view
