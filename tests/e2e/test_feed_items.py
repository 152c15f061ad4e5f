"""The public representation of stored events (application/event_feed.py), read from a real log."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from nm_workflow.application.event_feed import (
    EVENT_TYPES,
    FEED_ACCESS,
    feed_item,
    plain,
    public_type,
    topics_of,
    visible_types,
)
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from tests.e2e.api import Api
from tests.e2e.test_interactions import comment, customer_service

FEED_DOC = Path(__file__).parents[2] / "docs" / "feed.md"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def items_of(store: EventStore) -> list[dict[str, object]]:
    public = [n for n in store.notifications() if public_type(n.topic) is not None]
    return [feed_item(n, store.mapper) for n in public]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_item_event_is_represented_with_its_envelope_metadata_and_payload(api: Api) -> None:
    item = api.planned()
    store: EventStore = api.client.app.state.store  # type: ignore[attr-defined]
    planned = next(i for i in items_of(store) if i["aggregate_id"] == item)
    assert planned["type"] == "ContentItem.Planned"
    assert planned["aggregate_type"] == "ContentItem"
    assert planned["version"] == 1
    assert isinstance(planned["position"], int)
    assert RFC3339_UTC.match(str(planned["timestamp"]))
    metadata = planned["metadata"]
    assert isinstance(metadata, dict)
    assert (metadata["actor_id"], metadata["role"], metadata["department"]) == ("mia",) + ("marketing",) * 2
    assert list(metadata) == [
        "actor_id", "role", "department", "correlation_id", "causation_id", "policy_version",
    ]  # fmt: skip
    assert metadata["policy_version"] == 1
    payload = planned["payload"]
    assert isinstance(payload, dict)
    assert payload["theme"] == "Spring launch"
    assert payload["platforms"] == ["wechat", "weibo"]
    assert re.match(r"^\d{4}-\d\d-\d\d$", payload["planned_publish_date"])
    assert not {"originator_id", "originator_version", "timestamp", "meta"} & set(payload)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_personal_data_never_leaves_through_the_feed_erased_or_not(api: Api) -> None:
    text, handle = comment("c-1")["text"], comment("c-1")["author_handle"]
    received = api.post("/interactions", comment("c-1"), customer_service(api)).json()
    management = api.key("max", Role.MANAGEMENT, "management")
    before = json.dumps(items_of(api.client.app.state.store))  # type: ignore[attr-defined]
    erased = api.post(f"/interactions/{received['id']}/erasure", {"reason": "user request"}, management)
    assert erased.status_code == 200, erased.text
    items = items_of(api.client.app.state.store)  # type: ignore[attr-defined]
    for dumped in (before, json.dumps(items)):
        assert text not in dumped
        assert handle not in dumped
        assert "_sealed" not in dumped
    interaction = [i for i in items if i["aggregate_id"] == received["id"]]
    assert [i["type"] for i in interaction] == ["Interaction.Received", "Interaction.PersonalDataErased"]
    payload = interaction[0]["payload"]
    assert isinstance(payload, dict)
    assert payload["platform_id"] == "c-1"
    assert RFC3339_UTC.match(payload["received_at"])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_services_own_bookkeeping_is_not_public(api: Api) -> None:
    api.planned()  # makes an API key (an event of the log) and an item
    store: EventStore = api.client.app.state.store  # type: ignore[attr-defined]
    private = [n for n in store.notifications() if public_type(n.topic) is None]
    assert private, "API keys are events of the log too"
    assert all("ApiKey" in n.topic or "Idempotency" in n.topic for n in private)
    with pytest.raises(ValueError, match="not public"):
        feed_item(private[0], store.mapper)


def test_the_public_types_and_who_sees_them() -> None:
    assert "ContentItem.Published" in EVENT_TYPES
    assert "Interaction.PersonalDataErased" in EVENT_TYPES
    assert not {"ContentItem.Event", "ContentItem.Created"} & set(EVENT_TYPES)
    assert {t.aggregate_type for t in EVENT_TYPES.values()} == {
        "ContentItem", "Interaction", "ChannelAccount", "Feedback", "Evaluation", "WorkflowPolicy",
    }  # fmt: skip
    assert visible_types([Role.AUDITOR]) == set(EVENT_TYPES)
    service = visible_types([Role.SERVICE])
    assert "Interaction.Received" in service
    assert not any(name.startswith(("Evaluation.", "Feedback.")) for name in service)
    assert visible_types([Role.MARKETING, Role.ADMIN]) == frozenset()
    assert visible_types([Role.MARKETING, Role.SERVICE]) == service
    assert topics_of(["ContentItem.Published"]) == ["nm_workflow.domain.content_item:ContentItem.Published"]


def test_docs_list_every_public_type_and_who_sees_it() -> None:
    doc = FEED_DOC.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| (`\w+`(?:, `\w+`)*) \|$", doc, re.M))
    listed = {
        f"{aggregate}.{name}" for aggregate, names in rows.items() for name in re.findall(r"`(\w+)`", names)
    }
    assert listed == set(EVENT_TYPES)
    for role, aggregate_types in FEED_ACCESS.items():
        row = re.search(rf"^\| `{role}` \| (.*) \|$", doc, re.M)
        assert row is not None, role
        assert set(re.findall(r"`(\w+)`", row[1])) == aggregate_types, role


def test_plain_values_are_json_and_times_utc_whatever_the_machine_zone(machine_time_zone: str) -> None:
    moment = datetime(2027, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    assert plain(moment) == "2027-03-01T02:00:00Z"
    assert plain(datetime(987, 1, 2, 3, 4, 5, 6)) == "0987-01-02T03:04:05.000006Z"
    assert plain({"on": date(2027, 3, 1), "n": Decimal("0.10"), "ids": (UUID(int=1),)}) == {
        "on": "2027-03-01", "n": "0.10", "ids": ["00000000-0000-0000-0000-000000000001"],
    }  # fmt: skip
    assert plain(Role.AUDITOR) == "auditor"
