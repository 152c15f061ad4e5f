"""Snapshots hold personal data only sealed: after erasure none is readable anywhere (ADR 0019, 0029)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from nm_workflow.application.interactions import Interactions
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import ReadModel
from tests.projections.test_interaction_erasure import CS, HANDLE, MANAGER, TEXT, every_value, leaked


def answered_complaint(service: Interactions, platform_id: str) -> UUID:
    """A complaint holding TEXT and HANDLE, received and answered by customer service (2 events)."""
    received = {
        "platform": "weibo", "platform_id": platform_id, "kind": "complaint", "text": TEXT,
        "author_handle": HANDLE, "received_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    }  # fmt: skip
    interaction = service.receive(CS, received).aggregate_id
    service.respond(CS, interaction, "Sorry, we are checking", None)
    return interaction


def test_after_erasure_no_snapshot_and_no_past_version_shows_the_handle_or_the_text(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(snapshot_interval=1)  # a snapshot at every version
    store = EventStore(settings)
    read_model = ReadModel(settings, store)
    try:
        service = Interactions(store, settings)
        interaction = answered_complaint(service, "secret-2")
        assert service.get(CS.actor, interaction, version=1)["text"] == TEXT  # from its snapshot

        service.erase(MANAGER, interaction, "the customer asked")

        assert store.snapshots is not None
        assert [s.originator_version for s in store.snapshots.get(interaction)] == [1, 2, 3]
        assert leaked(every_value(read_model)) == []  # the snapshot table included
        for version in (1, 2, 3):
            past = service.get(CS.actor, interaction, version=version)
            assert (past["text"], past["author_handle"]) == (None, None), version
    finally:
        read_model.close()
        store.close()
