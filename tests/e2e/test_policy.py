"""The workflow policy over HTTP (Ch. 8): a revision with and without each required review, items
mid-review across a policy change, and the version stamped on every event."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nm_workflow.application.policy_book import seed_rules
from nm_workflow.application.store import EventStore
from tests.e2e.api import OBSERVED_AT, Api

DEPARTMENTS = ("marketing", "customer_service", "legal", "data_analysis")


def rules(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(seed_rules(48)), **changes}


def with_management_stage() -> dict[str, Any]:
    chains = {"default": ["editor", "department_head", "legal", "management"], "formats": {}, "platforms": {}}
    return rules(
        review_chains=chains, stage_hours={"editor": 8, "department_head": 24, "legal": 24, "management": 12}
    )


def head(api: Api, department: str) -> str:
    return api.key(f"head-{department}", "department_head", department)


def manager(api: Api) -> str:
    return api.key("boss", "management", "management")


def propose(api: Api, proposal: dict[str, Any] | None = None) -> Any:
    body = {"rules": proposal or with_management_stage(), "reason": "Management signs off on every item"}
    return api.post("/policies", body, api.marketing)


def review(api: Api, department: str, decision: str = "approve", version: int = 2, **body: Any) -> Any:
    return api.post(f"/policies/{version}/reviews", {"decision": decision, **body}, head(api, department))


def adopted(api: Api, proposal: dict[str, Any] | None = None) -> None:
    assert propose(api, proposal).status_code == 201
    for department in DEPARTMENTS:
        assert review(api, department).status_code == 200
    response = api.post("/policies/2/approval", {}, manager(api))
    assert response.status_code == 200, response.text


def problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    return body


def test_the_seed_policy_is_version_1_in_force_from_the_first_start(api: Api) -> None:
    current = api.get("/policies/current", api.marketing)
    assert current.status_code == 200
    body = current.json()
    assert (body["version"], body["status"], body["in_force"], body["approved_by"]) == (1, "seed", True, None)
    assert body["rules"]["review_chains"]["default"] == ["editor", "department_head", "legal"]
    assert [c["chapter"] for c in body["rules"]["clauses"]] == list(range(1, 9))
    assert [v["version"] for v in api.get("/policies", api.marketing).json()] == [1]


def test_a_revision_is_approved_after_every_department_review(api: Api) -> None:
    proposed = propose(api)
    assert proposed.status_code == 201, proposed.text
    assert proposed.headers["Location"] == "/policies/2"
    assert proposed.json()["status"] == "proposed"
    for department in DEPARTMENTS:
        assert review(api, department).status_code == 200
    approved = api.post("/policies/2/approval", {}, manager(api))
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    current = api.get("/policies/current", api.marketing).json()
    assert (current["version"], current["approved_by"]) == (2, "boss")
    history = api.get("/policies", api.marketing).json()
    assert [(v["version"], v["in_force"]) for v in history] == [(1, False), (2, True)]
    assert history[0]["effective_to"] == history[1]["effective_from"]
    assert {r["department"] for r in api.get("/policies/2", api.marketing).json()["reviews"]} == set(
        DEPARTMENTS
    )


@pytest.mark.parametrize("missing", DEPARTMENTS)
def test_approval_without_a_required_review_is_refused_and_writes_nothing(api: Api, missing: str) -> None:
    propose(api)
    for department in DEPARTMENTS:
        if department != missing:
            review(api, department)
    before = api.get("/policies/2", api.marketing).headers["ETag"]
    body = problem(api.post("/policies/2/approval", {}, manager(api)), 409, "policy-review-missing")
    assert missing in body["detail"]
    assert api.get("/policies/2", api.marketing).headers["ETag"] == before
    assert api.get("/policies/current", api.marketing).json()["version"] == 1


def test_approval_with_an_objection_outstanding_is_refused(api: Api) -> None:
    propose(api)
    for department in DEPARTMENTS:
        review(api, department)
    objected = review(api, "legal", "object", reasons=["Legal needs 48 hours"])
    assert objected.json()["reviews"][2]["decision"] == "objected"
    body = problem(api.post("/policies/2/approval", {}, manager(api)), 409, "policy-objection-outstanding")
    assert "legal" in body["detail"]
    problem(review(api, "legal", "object"), 422, "rule-violation")  # an objection gives reasons


@pytest.mark.parametrize("role", ["marketing", "department_head", "legal", "editor"])
def test_only_management_approves_a_revision(api: Api, role: str) -> None:
    propose(api)
    for department in DEPARTMENTS:
        review(api, department)
    problem(api.post("/policies/2/approval", {}, api.key("someone", role, "marketing")), 403, "forbidden")


def test_proposals_reviews_and_their_refusals(api: Api) -> None:
    problem(api.post("/policies", {"rules": rules(), "reason": "r"}, head(api, "legal")), 403, "forbidden")
    no_legal = rules(review_chains={"default": ["editor"], "formats": {}, "platforms": {}})
    problem(propose(api, no_legal), 422, "invalid-policy")
    unknown_stage = rules(
        review_chains={"default": ["editor", "ceo", "legal"], "formats": {}, "platforms": {}}
    )
    problem(propose(api, unknown_stage), 422, "validation-error")
    problem(review(api, "legal"), 409, "no-open-policy-proposal")
    assert propose(api).status_code == 201
    problem(propose(api), 409, "policy-proposal-open")
    problem(review(api, "product"), 403, "not-a-reviewing-department")
    problem(api.post("/policies/2/approval", {"effective_from": "2020-01-01T00:00:00Z"}, manager(api)), 409,
            "policy-review-missing")  # fmt: skip
    withdrawn = api.post("/policies/2/withdrawal", {"reason": "Rethinking"}, api.marketing)
    assert withdrawn.json()["status"] == "withdrawn"
    assert propose(api).headers["Location"] == "/policies/3"
    problem(api.get("/policies/9", api.marketing), 404, "not-found")


def test_an_effective_time_in_the_past_is_refused(api: Api) -> None:
    propose(api)
    for department in DEPARTMENTS:
        review(api, department)
    past = {"effective_from": "2020-01-01T00:00:00Z"}
    problem(api.post("/policies/2/approval", past, manager(api)), 422, "invalid-effective-time")
    future = api.post("/policies/2/approval", {"effective_from": "2099-01-01T00:00:00Z"}, manager(api))
    assert future.status_code == 200
    assert api.get("/policies/current", api.marketing).json()["version"] == 1  # not yet


def test_a_review_in_progress_keeps_its_chain_across_a_policy_change(api: Api) -> None:
    before = api.in_review("department_head")  # under version 1: editor approved
    adopted(api, with_management_stage())
    api.approve(before, "department_head")
    finished = api.approve(before, "legal").json()
    assert finished["state"] == "approved"
    assert (finished["review_chain"], finished["review_policy_version"]) == (
        ["editor", "department_head", "legal"],
        1,
    )

    after = api.in_review("editor")  # requested under version 2
    view = api.get(f"/items/{after}", api.marketing).json()
    assert view["review_chain"] == ["editor", "department_head", "legal", "management"]
    assert (view["review_policy_version"], view["stage_hours"]["management"]) == (2, 12)
    for stage in ("editor", "department_head", "legal"):
        api.approve(after, stage)
    assert api.get(f"/items/{after}", api.marketing).json()["state"] == "in_review"
    final = api.post(f"/items/{after}/approvals", {"stage": "management", "revision": 1}, manager(api))
    assert final.status_code == 200, final.text
    assert final.json()["state"] == "approved"


def test_every_event_of_every_aggregate_carries_the_policy_version_in_force(api: Api) -> None:
    first = api.published()  # also issues keys (ApiKey events) and, with a key, idempotency records
    metrics = api.post(f"/items/{first}/metrics", {"platform": "wechat", "observed_at": OBSERVED_AT,
                       "counters": {"likes": 1}}, api.analyst, idempotency_key="m-1")  # fmt: skip
    assert metrics.status_code == 200, metrics.text
    adopted(api)
    second = api.drafted()
    store: EventStore = api.client.app.state.store  # type: ignore[attr-defined]
    stamped: dict[str, set[int]] = {}
    for notification in store.notifications():
        event: Any = store.mapper.to_domain_event(notification)
        aggregate = type(event).__qualname__.split(".")[0]
        stamped.setdefault(aggregate, set()).add(event.meta["policy_version"])
    assert set(stamped) == {"WorkflowPolicy", "ApiKey", "ContentItem", "IdempotencyRecord"}
    assert stamped["ContentItem"] == {1, 2}
    history = api.get(f"/items/{second}/history", api.marketing).json()
    assert {e["metadata"]["policy_version"] for e in history} == {2}
    assert {
        e["metadata"]["policy_version"] for e in api.get(f"/items/{first}/history", api.marketing).json()
    } == {1}


def test_the_rules_in_force_sent_back_are_a_valid_proposal_and_bad_text_is_refused(api: Api) -> None:
    current = api.get("/policies/current", api.marketing).json()["rules"]
    assert api.post("/policies", {"rules": current, "reason": "Same rules"}, api.marketing).status_code == 201
    api.post("/policies/2/withdrawal", {"reason": "test"}, api.marketing)
    nul = copy.deepcopy(current)
    nul["lexicon"]["categories"][0]["terms"].append("最\x00好")
    problem(api.post("/policies", {"rules": nul, "reason": "r"}, api.marketing), 422, "validation-error")
    no_letters = copy.deepcopy(current)
    no_letters["lexicon"]["categories"][0]["terms"].append("--")
    problem(api.post("/policies", {"rules": no_letters, "reason": "r"}, api.marketing), 422, "invalid-policy")
    twice = copy.deepcopy(current)  # one platform spelled twice: its chain would be one of the two
    twice["review_chains"]["platforms"] = {"WeChat": ["editor", "legal"], "wechat ": ["legal"]}
    refused = problem(
        api.post("/policies", {"rules": twice, "reason": "r"}, api.marketing), 422, "validation-error"
    )
    assert "'WeChat' and 'wechat ' name one platform" in refused["detail"]


def test_the_policy_has_a_paged_history_and_the_version_in_force_at_any_past_time(api: Api) -> None:
    adopted(api)
    events = api.get("/policies/history", api.marketing)
    assert events.status_code == 200
    kinds = [e["type"] for e in events.json()]
    assert len(kinds) == 3 + len(DEPARTMENTS), kinds  # the seed, the proposal, its reviews, the approval
    assert events.headers["ETag"] == f'"{len(kinds)}"'
    first = api.get("/policies/history?limit=1", api.marketing)
    assert [e["version"] for e in first.json()] == [1]
    assert 'rel="next"' in first.headers["Link"]
    approval = events.json()[-1]
    assert approval["metadata"]["role"] == "management"

    seeded_at, approved_at = events.json()[0]["recorded_at"], approval["recorded_at"]
    then = api.get(f"/policies/current?as_of={seeded_at}", api.marketing).json()
    assert then["version"] == 1, "before the approval, the seed was in force"
    effective = approval["data"].get("effective_from") or approved_at
    now = api.get(f"/policies/current?as_of={effective}", api.marketing).json()
    assert now["version"] == 2
    assert api.get("/policies/current", api.marketing).json()["version"] == 2
    before = api.get("/policies/current?as_of=2001-01-01T00:00:00Z", api.marketing)
    problem(before, 404, "no-such-version")
