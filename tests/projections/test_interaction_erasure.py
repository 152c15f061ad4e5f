"""Erasure leaves no personal text anywhere in the database, while counts and times stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.interactions import Interactions
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from projections import ReadModel
from tests.projections.conftest import SupervisorFactory

CS = CommandContext(Actor("cara", frozenset({Role.CUSTOMER_SERVICE}), "customer_service"))
MANAGER = CommandContext(Actor("max", frozenset({Role.MANAGEMENT}), "management"))
TEXT = "我的手机号是13800138000 快递丢了"
HANDLE = "@zhang_unique_handle_42"
# JSON may store the text with \u escapes; the phone number and the handle are ASCII either way.
SECRETS = (TEXT, json.dumps(TEXT)[1:-1], "13800138000", HANDLE)


def leaked(values: list[str]) -> list[str]:
    return [v for v in values if any(secret in v for secret in SECRETS)]


def every_value(read_model: ReadModel) -> list[str]:
    """Every cell of every table of the database, as text (bytes decoded as UTF-8)."""
    listing = (
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        if read_model.db.is_postgres
        else "SELECT name FROM sqlite_master WHERE type = 'table'"
    )
    values: list[str] = []
    with read_model.db.read({}) as tx:
        for table in [row["name"] for row in tx.all(listing)]:
            for row in tx.all(f'SELECT * FROM "{table}"'):
                values += [_text(value) for value in row.values()]
    return values


def _text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def test_after_erasure_no_table_holds_the_handle_or_the_text(
    store: EventStore, settings: Settings, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    service = Interactions(store, settings)
    received: dict[str, Any] = {
        "platform": "weibo", "platform_id": "secret-1", "kind": "complaint", "text": TEXT,
        "author_handle": HANDLE, "received_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    }  # fmt: skip
    interaction = service.receive(CS, received).aggregate_id
    service.respond(CS, interaction, "Sorry, we are checking", None)
    supervisor = start_supervisor()
    assert supervisor.wait_for(store.head(), timeout=60)
    before = every_value(read_model)
    assert leaked(before) == [], "sealed from the start: never in clear"
    assert service.get(CS.actor, interaction)["text"] == TEXT

    service.erase(MANAGER, interaction, "the customer asked")
    assert supervisor.wait_for(store.head(), timeout=60)

    view = service.get(CS.actor, interaction)
    assert (view["text"], view["author_handle"], view["personal_data_erased"]) == (None, None, True)
    assert view["first_responded_at"] is not None
    assert all(e["data"].get("text") is None for e in service.history(CS.actor, interaction).events)
    log = read_model.interaction_log()
    assert [(r["responses"], r["personal_data_erased"]) for r in log] == [(1, True)]
    assert log[0]["first_response_seconds"] is not None
    with read_model.db.read({}) as tx:
        assert tx.all("SELECT * FROM interaction_keys") == []
    # The sealed values stay in the log, and without the key nothing opens them.
    sealed = store.stored_events(interaction)[0]
    assert sealed.text_sealed  # type: ignore[attr-defined]
    assert leaked(every_value(read_model)) == []
