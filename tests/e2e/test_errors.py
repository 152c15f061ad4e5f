"""Bad input gets a clear problem+json 4xx and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
import pytest

from nm_workflow.application.settings import Settings
from tests.e2e.api import DRAFT, PLAN, Api
from tests.e2e.live import live_server, once_back, proxied
from tests.support.figures import Figures

PROBLEM = "application/problem+json"


def _assert_problem(response: httpx2.Response, status: int, type_: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["type"] == type_
    assert body["status"] == status
    assert "Traceback" not in response.text
    return body


def test_schema_violations_name_the_field_and_write_nothing(api: Api) -> None:
    assert api.marketing  # the key exists before the log head is taken
    head = api.client.app.state.store.head()  # type: ignore[attr-defined]
    body = _assert_problem(
        api.post("/items", {**PLAN, "platforms": []}, api.marketing), 422, "/problems/validation-error"
    )
    assert body["errors"][0]["field"] == "body.platforms"  # type: ignore[index]
    _assert_problem(
        api.post("/items", {**PLAN, "surprise": 1}, api.marketing), 422, "/problems/validation-error"
    )
    assert api.client.app.state.store.head() == head  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "bad",
    [
        {"title": "x\u0000y"},
        {"title": "\ud800"},
        {"title": ""},
        {"title": "t" * 301},
        {"asset_links": "not-a-list"},
        {"body": 7},
    ],
    ids=["nul", "lone-surrogate", "empty", "too-long", "wrong-type", "number"],
)
def test_unstorable_or_wrong_text_is_refused(api: Api, bad: dict[str, object]) -> None:
    item = api.planned()
    raw = json.dumps({**DRAFT, **bad}).encode()  # ASCII-escaped, so a lone surrogate can be sent
    headers = {"Authorization": f"Bearer {api.marketing}", "Content-Type": "application/json"}
    response = api.client.post(f"/items/{item}/drafts", content=raw, headers=headers)
    _assert_problem(response, 422, "/problems/validation-error")


def test_malformed_json_is_400(api: Api) -> None:
    response = api.client.post(
        "/items",
        content=b'{"theme": ',
        headers={"Authorization": f"Bearer {api.marketing}", "Content-Type": "application/json"},
    )
    _assert_problem(response, 400, "/problems/malformed-json")


def test_naive_times_are_refused(api: Api) -> None:
    item, _ = api.approved()
    response = api.post(
        f"/items/{item}/schedule", {"platform": "wechat", "at": "2027-03-01T09:00:00"}, api.marketing
    )
    _assert_problem(response, 422, "/problems/validation-error")


def test_bad_headers_are_400(api: Api) -> None:
    item = api.planned()
    _assert_problem(
        api.post(f"/items/{item}/drafts", DRAFT, api.marketing, if_match="yesterday"),
        400,
        "/problems/invalid-request",
    )
    _assert_problem(
        api.post(f"/items/{item}/drafts", DRAFT, api.marketing, idempotency_key="has space"),
        400,
        "/problems/invalid-request",
    )


def test_a_stale_if_match_is_412_with_the_current_etag(api: Api) -> None:
    item = api.drafted()
    response = api.post(f"/items/{item}/drafts", DRAFT, api.marketing, if_match='"1"')
    body = _assert_problem(response, 412, "/problems/version-mismatch")
    assert body["current_version"] == 2
    assert response.headers["ETag"] == '"2"'


def test_unknown_items_and_routes_are_404(api: Api) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    _assert_problem(api.get(f"/items/{missing}", api.marketing), 404, "/problems/not-found")
    _assert_problem(api.post(f"/items/{missing}/drafts", DRAFT, api.marketing), 404, "/problems/not-found")
    _assert_problem(api.get("/nowhere", api.marketing), 404, "/problems/no-such-resource")
    key_as_item = api.marketing.split("_")[1]  # an API key's aggregate is no item
    _assert_problem(api.get(f"/items/{key_as_item}", api.marketing), 404, "/problems/not-found")


def test_a_body_over_the_limit_is_413(app_factory: Callable[..., Api]) -> None:
    api = app_factory(max_body_bytes=4096)
    item = api.planned()
    response = api.post(f"/items/{item}/drafts", {**DRAFT, "body": "x" * 5000}, api.marketing)
    _assert_problem(response, 413, "/problems/payload-too-large")


def test_every_problem_type_is_documented(api: Api) -> None:
    described = api.client.get("/problems/self-approval").json()
    assert described == {
        "type": "/problems/self-approval",
        "status": 403,
        "title": "Authors may not approve their own revision",
    }


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # a network path exists only there
@pytest.mark.parametrize("overflow", [10, 0], ids=["pool-can-grow", "pool-always-full"])
def test_an_unreachable_database_is_503_with_retry_after(
    make_settings: Callable[..., Settings], overflow: int, figures: Figures
) -> None:
    proxy, through_proxy = proxied(make_settings, db_max_overflow=overflow)
    with live_server(through_proxy) as base, httpx2.Client(base_url=base, timeout=30) as client:
        assert client.get("/health").status_code == 200
        proxy.cut()
        response = client.post(
            "/items", json=PLAN, headers={"Authorization": "Bearer nmk_" + "1" * 32 + "_x"}
        )
        assert response.status_code == 503, response.text
        # about two connect timeouts (1 s here), not the library's own ten attempts
        assert response.elapsed.total_seconds() < 6
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "/problems/store-unavailable"
        assert int(response.headers["Retry-After"]) >= 1
        fast = client.get("/health")  # while the pause lasts, no waiting on the database
        assert fast.status_code == 503
        assert fast.elapsed.total_seconds() < 1
        proxy.start()
        healed = once_back(lambda: client.get("/health"))
        assert healed.status_code == 200, healed.text
        figures(faults_injected=1, answered_503=2, answered_500=0, recovered_without_restart=True)


def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.marketing}", "Content-Type": "text/plain"}
    response = api.client.post("/items", content=json.dumps(PLAN), headers=headers)
    _assert_problem(response, 415, "/problems/unsupported-media-type")


def test_platform_names_are_normalised(api: Api) -> None:
    created = api.post("/items", {**PLAN, "platforms": [" WeChat", "weibo"]}, api.marketing)
    assert created.json()["platforms"] == ["wechat", "weibo"]
    twice = api.post("/items", {**PLAN, "platforms": ["wechat", "WECHAT"]}, api.marketing)
    _assert_problem(twice, 422, "/problems/invalid-plan")


def test_if_match_on_a_create_is_412(api: Api) -> None:
    _assert_problem(
        api.post("/items", PLAN, api.marketing, if_match='"1"'), 412, "/problems/version-mismatch"
    )
    assert api.post("/items", PLAN, api.marketing, if_match="*").status_code == 201
