"""The compliance pre-check over HTTP: forbidden terms, their evasions, justifications, acknowledgements."""

from __future__ import annotations

from typing import Any

from tests.e2e.api import DRAFT, Api

EVASIONS = "本品是最佳选择。也是最 佳、最-佳、最\u200d佳、ＮＯ．１。"


def test_a_check_answers_findings_at_their_places_and_stores_nothing(api: Api) -> None:
    store = api.client.app.state.store  # type: ignore[attr-defined]
    key = api.key("cs", "customer_service", "customer_service")
    assert api.get("/policies/current", key).status_code == 200  # the seed policy is recorded
    head = store.head()
    response = api.post("/compliance/check", {**DRAFT, "body": EVASIONS}, key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["policy_version"] == 1
    found = [(f["term"], f["matched"], EVASIONS[f["start"] : f["end"]]) for f in body["findings"]]
    assert found == [
        ("最佳", "最佳", "最佳"),
        ("最佳", "最 佳", "最 佳"),
        ("最佳", "最-佳", "最-佳"),
        ("最佳", "最\u200d佳", "最\u200d佳"),
        ("No.1", "ＮＯ．１", "ＮＯ．１"),
    ]
    assert all(f["severity"] == "block" and "art. 9" in f["legal_basis"] for f in body["findings"])
    assert store.head() == head


def test_a_clean_text_has_no_finding(api: Api) -> None:
    response = api.post("/compliance/check", DRAFT, api.marketing)
    assert response.json()["findings"] == []


def test_admin_keys_may_not_check(api: Api) -> None:
    admin = api.key("root", "admin", "it")
    assert api.post("/compliance/check", DRAFT, admin).status_code == 403


def revise(api: Api, body: str) -> tuple[str, dict[str, Any]]:
    item = api.planned()
    response = api.post(f"/items/{item}/drafts", {**DRAFT, "body": body}, api.marketing)
    assert response.status_code == 200
    return item, response.json()["current_revision"]


def test_a_blocking_finding_stops_the_review_request_until_marketing_justifies_it(api: Api) -> None:
    item, revision = revise(api, "全国最 佳的产品，保本。")
    assert [(f["id"], f["term"], f["severity"]) for f in revision["findings"]] == [
        ("f1", "最佳", "block"),
        ("f2", "保本", "warn"),
    ]
    assert revision["lexicon_version"] == 1
    refused = api.post(f"/items/{item}/review-requests", {}, api.marketing)
    assert refused.status_code == 422
    assert refused.json()["type"] == "/problems/unjustified-findings"
    assert "f1" in refused.json()["detail"]
    unknown = api.post(
        f"/items/{item}/review-requests", {"justifications": {"f1": "x", "f7": "y"}}, api.marketing
    )
    assert unknown.json()["type"] == "/problems/unknown-finding"
    sent = api.post(f"/items/{item}/review-requests", {"justifications": {"f1": "A quote"}}, api.marketing)
    assert sent.status_code == 200, sent.text
    assert sent.json()["justifications"] == {"f1": "A quote"}


def test_legal_approval_is_refused_until_every_finding_is_acknowledged(api: Api) -> None:
    item, _ = revise(api, "最佳的产品，保本。")
    api.post(f"/items/{item}/review-requests", {"justifications": {"f1": "A quote"}}, api.marketing)
    api.approve(item, "editor")
    api.approve(item, "department_head")
    legal = api.reviewer("legal")
    refused = api.post(f"/items/{item}/approvals", {"stage": "legal", "revision": 1}, legal)
    assert refused.status_code == 422
    assert refused.json()["type"] == "/problems/unacknowledged-findings"
    assert "open: f1, f2" in refused.json()["detail"]
    partial = {"stage": "legal", "revision": 1, "acknowledged_findings": ["f2"]}
    assert "open: f1" in api.post(f"/items/{item}/approvals", partial, legal).json()["detail"]
    done = api.post(f"/items/{item}/approvals", {**partial, "acknowledged_findings": ["f1", "f2"]}, legal)
    assert done.status_code == 200
    assert done.json()["state"] == "approved"
