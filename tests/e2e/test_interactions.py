"""Customer interactions over HTTP (Ch. 4.3), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from nm_workflow.domain.roles import Role
from tests.e2e.api import Api


def comment(platform_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "platform": "weibo",
        "platform_id": platform_id,
        "kind": "complaint",
        "text": "快递一周还没到 客服也不回复😡",
        "author_handle": "@xiaowang",
        "received_at": "2026-11-02T10:15:00+08:00",
        **overrides,
    }


def customer_service(api: Api) -> str:
    return api.key("cara", Role.CUSTOMER_SERVICE, "customer_service")


def test_a_complaint_is_received_answered_escalated_handled_and_resolved(api: Api) -> None:
    cs = customer_service(api)
    received = api.post("/interactions", comment("c-1"), cs)
    assert received.status_code == 201, received.text
    interaction = received.json()
    assert received.headers["Location"] == f"/interactions/{interaction['id']}"
    assert interaction["sentiment"] == "negative"
    assert interaction["sentiment_source"] == "classifier:lexicon-1"
    assert interaction["handling_due"] == "2026-11-02T10:15:00Z"  # 8 hours after 02:15 UTC
    assert interaction["response_due"] == "2026-11-03T02:15:00Z"
    path = f"/interactions/{interaction['id']}"
    answered = api.post(f"{path}/responses", {"reply_text": "Sorry, we are on it"}, cs)
    assert answered.json()["state"] == "responded"
    assert answered.json()["response_due"] is None
    escalated = api.post(f"{path}/escalations", {"department": "logistics", "reason": "lost parcel"}, cs)
    assert escalated.json()["department"] == "logistics"
    marketing_head = api.key("hank", Role.DEPARTMENT_HEAD, "marketing")
    refused = api.post(f"{path}/handling", {"note": "not ours"}, marketing_head)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/wrong-department"
    logistics_head = api.key("lena", Role.DEPARTMENT_HEAD, "logistics")
    handled = api.post(f"{path}/handling", {"note": "re-sent by express"}, logistics_head)
    assert handled.status_code == 200, handled.text
    assert handled.json()["escalations"][0]["handled_by"] == "lena"
    resolved = api.post(f"{path}/resolution", {"outcome": "parcel arrived"}, cs)
    assert resolved.json()["state"] == "resolved"
    again = api.post(f"{path}/responses", {"reply_text": "anything else?"}, cs)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/interaction-resolved"
    history = api.get(f"{path}/history", cs).json()
    assert [e["type"] for e in history] == [
        "Received", "Responded", "Escalated", "HandledByDepartment", "Resolved",
    ]  # fmt: skip
    assert history[0]["data"]["text"] == comment("c-1")["text"]
    assert api.get(f"{path}?version=1", cs).json()["state"] == "received"


def test_the_same_platform_comment_twice_is_one_interaction(api: Api) -> None:
    cs = customer_service(api)
    first = api.post("/interactions", comment("c-2"), cs)
    second = api.post("/interactions", comment("c-2", text="edited text"), cs)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["text"] == comment("c-2")["text"]
    other_platform = api.post("/interactions", comment("c-2", platform="douyin"), cs)
    assert other_platform.status_code == 201


def test_bad_interactions_are_refused_with_problems(api: Api) -> None:
    cs = customer_service(api)
    future = api.post("/interactions", comment("c-3", received_at="2999-01-01T00:00:00Z"), cs)
    assert future.status_code == 422
    assert future.json()["type"] == "/problems/time-in-the-future"
    naive = api.post("/interactions", comment("c-3", received_at="2026-11-02T10:15:00"), cs)
    assert naive.status_code == 422
    assert api.post("/interactions", comment("c-3", kind="tweet"), cs).status_code == 422
    marketing = api.post("/interactions", comment("c-3"), api.marketing)
    assert marketing.status_code == 403
    created = api.post("/interactions", comment("c-3"), cs).json()
    early = api.post(
        f"/interactions/{created['id']}/responses",
        {"reply_text": "hi", "replied_at": "2026-11-01T00:00:00Z"},
        cs,
    )
    assert early.status_code == 422
    assert early.json()["type"] == "/problems/invalid-interaction-time"
    assert api.get("/interactions/00000000-0000-0000-0000-000000000000", cs).status_code == 404


def test_a_batch_reports_each_item_and_one_bad_item_loses_no_other(api: Api) -> None:
    service = api.key("crawler", Role.SERVICE, "it")
    items: list[Any] = [
        comment("b-1"),
        comment("b-1"),  # a duplicate inside the batch
        comment("b-2", received_at="2999-01-01T00:00:00Z"),
        {"platform": "weibo"},
        "not an object",
        comment("b-3", sentiment="positive", text="谢谢"),
    ]
    answer = api.post("/interactions:batch", {"items": items}, service)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [r["status"] for r in body["results"]] == [
        "created", "already_known", "refused", "refused", "refused", "created",
    ]  # fmt: skip
    assert (body["created"], body["already_known"], body["refused"]) == (2, 1, 3)
    assert body["results"][2]["problem"] == "/problems/time-in-the-future"
    assert body["results"][3]["problem"] == "/problems/validation-error"
    assert "platform_id" in body["results"][3]["detail"]
    assert body["results"][0]["interaction_id"] == body["results"][1]["interaction_id"]
    again = api.post("/interactions:batch", {"items": [comment("b-1"), comment("b-3")]}, service).json()
    assert [r["status"] for r in again["results"]] == ["already_known", "already_known"]
    assert api.post("/interactions:batch", {"items": []}, service).status_code == 422
    too_many = {"items": [comment(f"m-{i}") for i in range(501)]}
    assert api.post("/interactions:batch", too_many, service).status_code == 422


def test_a_batch_with_if_match_naming_a_version_is_412_like_any_create_and_records_nothing(api: Api) -> None:
    service = api.key("crawler", Role.SERVICE, "it")
    batch = {"items": [comment("v-1"), comment("v-2")]}
    head = api.client.app.state.store.head()  # type: ignore[attr-defined]
    refused = api.post("/interactions:batch", batch, service, if_match='"1"')
    assert refused.status_code == 412, refused.text
    assert refused.json()["type"] == "/problems/version-mismatch"
    assert api.client.app.state.store.head() == head  # type: ignore[attr-defined]
    answer = api.post("/interactions:batch", batch, service, if_match="*").json()
    assert [r["status"] for r in answer["results"]] == ["created", "created"]


def test_erasure_leaves_times_and_removes_the_personal_data(api: Api) -> None:
    cs = customer_service(api)
    created = api.post("/interactions", comment("e-1"), cs).json()
    path = f"/interactions/{created['id']}"
    assert api.post(f"{path}/erasure", {"reason": "GDPR request"}, cs).status_code == 403
    manager = api.key("max", Role.MANAGEMENT, "management")
    erased = api.post(f"{path}/erasure", {"reason": "user request"}, manager)
    assert erased.status_code == 200, erased.text
    view = erased.json()
    assert (view["text"], view["author_handle"], view["personal_data_erased"]) == (None, None, True)
    assert view["received_at"] == "2026-11-02T02:15:00Z"
    first = api.get(f"{path}/history", cs).json()[0]["data"]
    assert first["text"] is None
    assert first["author_handle"] is None
    assert api.get(f"{path}?version=1", cs).json()["text"] is None
    assert api.post(f"{path}/erasure", {"reason": "again"}, manager).status_code == 200


def test_a_reply_retried_with_its_idempotency_key_is_answered_with_the_first_result(api: Api) -> None:
    cs = customer_service(api)
    created = api.post("/interactions", comment("i-1"), cs).json()
    path = f"/interactions/{created['id']}/responses"
    first = api.post(path, {"reply_text": "on it"}, cs, idempotency_key="reply-1")
    again = api.post(path, {"reply_text": "on it"}, cs, idempotency_key="reply-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["version"] == first.json()["version"] == 2
    assert len(again.json()["responses"]) == 1


def test_the_inbox_shows_each_department_what_was_escalated_to_it(api: Api) -> None:
    cs = customer_service(api)
    escalated = api.post("/interactions", comment("q-1"), cs).json()["id"]
    api.post("/interactions", comment("q-2", sentiment="positive"), cs)
    api.post(f"/interactions/{escalated}/responses", {"reply_text": "passing it on"}, cs)
    last = api.post(f"/interactions/{escalated}/escalations", {"department": "logistics", "reason": "r"}, cs)
    position = last.headers["Log-Position"]

    def inbox(key: str, query: str = "") -> list[tuple[str, str]]:
        response = api.get(f"/queues/interactions{query}", key, wait_for_position=position)
        assert response.status_code == 200, response.text
        return [(row["platform_id"], row["next_step"]) for row in response.json()]

    assert sorted(inbox(cs)) == [("q-1", "handle"), ("q-2", "respond")]
    assert inbox(cs, "?sentiment=positive") == [("q-2", "respond")]
    assert inbox(cs, "?overdue=true") == [("q-2", "respond")]  # received weeks ago, never answered
    assert inbox(api.key("lena", Role.DEPARTMENT_HEAD, "logistics")) == [("q-1", "handle")]
    assert inbox(api.key("hank", Role.DEPARTMENT_HEAD, "marketing")) == []
    assert api.get("/queues/interactions?kind=tweet", cs).status_code == 422
    log = api.get("/interactions", cs, wait_for_position=position).json()
    assert [(row["platform_id"], row["escalated_to"]) for row in log] == [("q-2", None), ("q-1", "logistics")]
