"""The event feed over HTTP in-process: pages, filters, roles, cursors, waits and the SSE stream."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from nm_workflow.application.event_feed import public_type
from nm_workflow.domain.roles import Role
from nm_workflow.interface.http.waiting import SERVER_STOPPING
from tests.e2e.api import Api
from tests.e2e.test_interactions import comment, customer_service

# SQLite in-process; PostgreSQL with concurrent writers and a real server: test_feed_live.py
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def auditor(api: Api) -> str:
    return api.key("audrey", Role.AUDITOR, "audit")


def service(api: Api) -> str:
    return api.key("svc", Role.SERVICE, "integration")


def public_positions(api: Api) -> list[int]:
    store = api.client.app.state.store  # type: ignore[attr-defined]
    return [n.id for n in store.notifications() if public_type(n.topic) is not None]


def sse_messages(text: str) -> list[dict[str, Any]]:
    """The data of each message of an event stream, with its id checked against the position."""
    messages = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":"))
        if "data" in fields:
            data = json.loads(fields["data"])
            assert fields["id"] == str(data["position"])
            messages.append(data)
    return messages


def test_pages_give_every_public_event_once_in_order(api: Api) -> None:
    api.published()
    key, after, seen = auditor(api), 0, []
    while True:
        page = api.get(f"/events?after={after}&limit=3", key)
        assert page.status_code == 200, page.text
        body = page.json()
        assert page.headers["Feed-Next-After"] == str(body["next_after"])
        seen += [item["position"] for item in body["items"]]
        if not body["items"]:
            break
        after = body["next_after"]
    assert seen == public_positions(api)
    assert body["next_after"] == api.client.app.state.store.head()  # type: ignore[attr-defined]


def test_filters_choose_types_and_aggregate_types(api: Api) -> None:
    item = api.published()
    api.post("/interactions", comment("c-1"), customer_service(api))
    key = auditor(api)
    planned = api.get("/events?types=ContentItem.Planned,ContentItem.Published", key).json()["items"]
    assert [(i["aggregate_id"], i["type"]) for i in planned] == [
        (item, "ContentItem.Planned"), (item, "ContentItem.Published"),
    ]  # fmt: skip
    interactions = api.get("/events?aggregate_types=Interaction", key).json()["items"]
    assert [i["type"] for i in interactions] == ["Interaction.Received"]
    both = api.get("/events?aggregate_types=Interaction&types=ContentItem.Planned", key).json()["items"]
    assert both == []


def test_a_role_sees_only_its_types_and_others_are_refused(api: Api) -> None:
    manager = api.key("olga", Role.MANAGEMENT, "management")
    quarter = {"kind": "quarterly_evaluation", "quarter": "2026Q3"}
    assert api.post("/evaluations", quarter, manager).status_code == 201
    types = {i["type"] for i in api.get("/events?limit=1000", service(api)).json()["items"]}
    assert "WorkflowPolicy.Seeded" in types
    assert not any(t.startswith("Evaluation.") for t in types)
    everything = api.get("/events?limit=1000", auditor(api)).json()["items"]
    assert "Evaluation.Opened" in {i["type"] for i in everything}
    for path, key in [
        ("/events", api.marketing),
        ("/events?types=Evaluation.Opened", service(api)),
        ("/events?aggregate_types=Feedback", service(api)),
        ("/events/stream?close_after=0", api.marketing),
    ]:
        refused = api.get(path, key)
        assert refused.status_code == 403, path
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["type"] == "/problems/forbidden"
    assert api.call("GET", "/events", None).status_code == 401


BAD_REQUESTS = [  # path, Last-Event-ID, the problem
    ("/events?after=999999", None, "/problems/invalid-cursor"),
    ("/events?after=-1", None, "/problems/validation-error"),
    ("/events?after=abc", None, "/problems/validation-error"),
    ("/events?limit=0", None, "/problems/validation-error"),
    ("/events?timeout=61", None, "/problems/validation-error"),
    ("/events?types=ContentItem.Nope", None, "/problems/invalid-query"),
    ("/events?aggregate_types=ApiKey", None, "/problems/invalid-query"),
    ("/events/stream?close_after=0", "999999", "/problems/invalid-cursor"),
    ("/events/stream?close_after=0", "x", "/problems/validation-error"),
    ("/events?types=", None, "/problems/invalid-query"),  # would choose nothing and skip the log
    ("/events?types=%20,%20", None, "/problems/invalid-query"),
    ("/events/stream?close_after=0&aggregate_types=", None, "/problems/invalid-query"),
]


def test_bad_cursors_and_filters_are_problems(api: Api) -> None:
    key = auditor(api)
    for path, last_event_id, problem in BAD_REQUESTS:
        headers = {} if last_event_id is None else {"Last_Event_ID": last_event_id}
        answer = api.call("GET", path, key, **headers)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["type"] == problem, path


def test_a_last_event_id_sent_twice_is_refused(api: Api) -> None:
    api.planned()
    headers = [("Authorization", f"Bearer {auditor(api)}"), ("Last-Event-ID", "1"), ("Last-Event-ID", "2")]
    answer = api.client.get("/events/stream?close_after=0", headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "/problems/invalid-request"


def test_a_long_poll_waits_for_the_next_event_and_answers_empty_when_none_comes(api: Api) -> None:
    key, head = auditor(api), api.client.app.state.store.head()  # type: ignore[attr-defined]
    nothing = api.get(f"/events?after={head}&timeout=0.2", key)
    assert nothing.json() == {"items": [], "next_after": head}
    answers: list[Any] = []
    poll = threading.Thread(target=lambda: answers.append(api.get(f"/events?after={head}&timeout=30", key)))
    poll.start()
    watch = api.client.app.state.feed_watch  # type: ignore[attr-defined]
    while not answers and watch.pending == 0:  # the poll is waiting, not answered at once
        poll.join(0.01)
    item = api.planned()
    poll.join(30)
    woken = answers[0].json()["items"]
    assert [(i["aggregate_id"], i["type"]) for i in woken] == [(item, "ContentItem.Planned")]


def test_head_of_a_long_poll_answers_its_headers_at_once(api: Api) -> None:
    # GET would wait up to `timeout` for an event; HEAD wants the headers, which waiting holds back.
    key, head = auditor(api), api.client.app.state.store.head()  # type: ignore[attr-defined]
    started = time.monotonic()
    answer = api.client.head(f"/events?after={head}&timeout=30", headers={"Authorization": f"Bearer {key}"})
    assert (answer.status_code, answer.headers["Feed-Next-After"], answer.content) == (200, str(head), b"")
    assert time.monotonic() - started < 10, "HEAD waited as its GET would"


@pytest.fixture
def server_stopping() -> Iterator[threading.Event]:
    """The flag the HTTP server sets when its graceful shutdown begins (server.TimedH11Protocol)."""
    yield SERVER_STOPPING
    SERVER_STOPPING.clear()  # the process goes on with other tests


def test_a_waiting_long_poll_answers_at_once_when_the_server_begins_to_stop(
    api: Api, server_stopping: threading.Event
) -> None:
    key, head = auditor(api), api.client.app.state.store.head()  # type: ignore[attr-defined]
    answers: list[Any] = []
    poll = threading.Thread(
        target=lambda: answers.append(api.get(f"/events?after={head}&timeout=60", key)), daemon=True
    )
    poll.start()
    watch = api.client.app.state.feed_watch  # type: ignore[attr-defined]
    while not answers and watch.pending == 0:  # the poll is waiting
        poll.join(0.01)
    server_stopping.set()
    poll.join(30)  # uvicorn waits for it before stopping: not the minute it asked for
    assert not poll.is_alive()
    assert answers[0].json() == {"items": [], "next_after": head}  # nothing skipped: it asks again


def test_the_stream_sends_each_event_with_its_position_as_id_and_resumes_after_it(api: Api) -> None:
    api.published()
    key = auditor(api)
    streamed = api.get("/events/stream?close_after=0", key)
    assert streamed.status_code == 200
    assert streamed.headers["Content-Type"].startswith("text/event-stream")
    everything = sse_messages(streamed.text)
    assert [m["position"] for m in everything] == public_positions(api)
    middle = everything[len(everything) // 2]["position"]
    resumed = api.get("/events/stream?close_after=0&after=0", key, Last_Event_ID=str(middle))
    assert sse_messages(resumed.text) == [m for m in everything if m["position"] > middle]


def test_an_idle_stream_sends_heartbeats(app_factory: Any) -> None:
    api = app_factory(feed_heartbeat_seconds=0.05)
    head = api.client.app.state.store.head()
    idle = api.get(f"/events/stream?after={head}&close_after=0.5", auditor(api))
    assert idle.status_code == 200
    assert ": ping" in idle.text
    assert sse_messages(idle.text) == []


def _revoke(api: Api, key: str) -> None:
    keys = api.client.app.state.keys  # type: ignore[attr-defined]
    assert keys.revoke(UUID(hex=key.split("_")[1]), "test")


WAITING = ["/events?after={head}&timeout=30", "/events/stream?after={head}&close_after=30"]


@pytest.mark.parametrize("path", WAITING)
def test_a_key_revoked_while_its_feed_request_waits_reads_no_event_after_it(api: Api, path: str) -> None:
    key, head = auditor(api), api.client.app.state.store.head()  # type: ignore[attr-defined]
    answers: list[Any] = []
    waiting = threading.Thread(target=lambda: answers.append(api.get(path.format(head=head), key)))
    waiting.start()
    watch = api.client.app.state.feed_watch  # type: ignore[attr-defined]
    while not answers and watch.pending == 0:  # the request is waiting for the next event
        waiting.join(0.01)
    _revoke(api, key)
    api.planned()
    waiting.join(30)
    answer = answers[0]
    if path.startswith("/events/stream"):  # already 200: it ends, and the reconnection is refused
        assert answer.status_code == 200
        assert sse_messages(answer.text) == []
        assert api.get(path.format(head=head), key).status_code == 401
    else:
        assert answer.status_code == 401, answer.text
        assert answer.json()["type"] == "/problems/unauthenticated"
