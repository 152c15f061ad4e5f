"""Evaluations over HTTP: the whole flow, and every refusal as a problem that writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from nm_workflow.domain.roles import Role
from tests.e2e.api import Api

Q3 = {"kind": "quarterly_evaluation", "quarter": "2026Q3"}
FINDING = {"text": "互动率下降 / interaction fell", "severity": "high", "figures": ["interaction_rate"]}
RECOMMENDATION = {"text": "Answer comments within 2 hours", "owner_department": "customer_service",
                  "due_date": "2026-12-31", "finding": 1}  # fmt: skip


@pytest.fixture
def olga(api: Api) -> str:
    return api.key("olga", Role.MANAGEMENT, "board")


@pytest.fixture
def sam(api: Api) -> str:
    return api.key("sam", Role.MANAGEMENT, "board")


def problem(response: Any, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{slug}"


def opened(api: Api, key: str, body: dict[str, Any] = Q3) -> str:
    response = api.post("/evaluations", body, key)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/evaluations/{response.json()['id']}"
    return str(response.json()["id"])


def test_open_find_recommend_sign_off_and_close_afterwards(api: Api, olga: str, sam: str) -> None:
    evaluation = opened(api, olga, {**Q3, "departments": ["市场部"], "platforms": ["WeChat "]})
    assert api.post(f"/evaluations/{evaluation}/findings", FINDING, olga).status_code == 200
    assert api.post(f"/evaluations/{evaluation}/recommendations", RECOMMENDATION, olga).status_code == 200
    signed = api.post(
        f"/evaluations/{evaluation}/sign-off", {"comment": "Q3 evaluated"}, sam, idempotency_key="s1"
    )
    assert signed.status_code == 200, signed.text
    again = api.post(
        f"/evaluations/{evaluation}/sign-off", {"comment": "Q3 evaluated"}, sam, idempotency_key="s1"
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == signed.json()
    closed = api.post(
        f"/evaluations/{evaluation}/recommendations/1/closure", {"outcome": "Rota changed"}, olga
    )
    assert closed.status_code == 200, closed.text

    body = api.get(f"/evaluations/{evaluation}", api.key("aud", Role.AUDITOR, "audit")).json()
    assert (body["quarter"], body["departments"], body["platforms"]) == ("2026Q3", ["市场部"], ["wechat"])
    assert body["sign_off"]["signed_off_by"] == "sam"
    assert body["sign_off"]["figures"] == []  # nothing happened in that scope
    assert body["sign_off"]["parameters"] == {"time_zone": "Asia/Shanghai", "review_stage_hours": 48}
    assert body["recommendations"][0]["closed"] is True
    assert body["findings"][0]["text"] == FINDING["text"]


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"kind": "quarterly_evaluation", "quarter": "2026Q5"}, 422, "validation-error"),
        ({"kind": "yearly", "quarter": "2026Q3"}, 422, "validation-error"),
        ({**Q3, "period_first": "2026-07-01"}, 422, "invalid-evaluation-period"),
        ({"kind": "periodic_check"}, 422, "invalid-evaluation-period"),
        ({"kind": "periodic_check", "period_first": "2026-07-02", "period_last": "2026-07-01"}, 422,
         "invalid-evaluation-period"),
        ({"kind": "quarterly_evaluation", "period_first": "2026-07-01", "period_last": "2026-08-31"}, 422,
         "invalid-evaluation-period"),
        ({**Q3, "platforms": ["weibo", "Weibo"]}, 422, "rule-violation"),
    ],
)  # fmt: skip
def test_bad_periods_and_scopes_are_refused(
    api: Api, olga: str, body: dict[str, Any], status: int, slug: str
) -> None:
    problem(api.post("/evaluations", body, olga), status, slug)


def test_refusals_write_nothing(api: Api, olga: str, sam: str) -> None:
    evaluation = opened(api, olga)
    path = f"/evaluations/{evaluation}"
    problem(api.post("/evaluations", Q3, api.marketing), 403, "forbidden")
    problem(
        api.post(f"{path}/findings", {**FINDING, "figures": ["likes_per_day"]}, olga), 422, "unknown-figure"
    )
    problem(api.post(f"{path}/sign-off", {}, sam), 409, "nothing-to-sign-off")
    problem(api.get(f"{path}/drift", olga), 409, "evaluation-not-signed-off")
    problem(
        api.post(f"{path}/recommendations", {**RECOMMENDATION, "finding": 1}, olga), 422, "rule-violation"
    )
    problem(
        api.post(f"{path}/recommendations/1/closure", {"outcome": "x"}, olga), 422, "unknown-recommendation"
    )
    assert api.get(path, olga).json()["version"] == 1  # nothing of the above was written

    api.post(f"{path}/findings", FINDING, olga)
    api.post(f"{path}/recommendations", RECOMMENDATION, olga)
    problem(api.post(f"{path}/sign-off", {}, olga), 403, "sign-off-by-opener")
    stale = api.post(f"{path}/sign-off", {}, sam, if_match='"2"')
    problem(stale, 412, "version-mismatch")
    # Not an item: the title names no kind, the detail names this one.
    assert stale.json()["title"] == "It has changed since the version you named"
    assert "the Evaluation is at version" in stale.json()["detail"]
    assert api.post(f"{path}/sign-off", {}, sam).status_code == 200
    problem(api.post(f"{path}/sign-off", {}, sam), 409, "evaluation-signed-off")
    problem(api.post(f"{path}/findings", FINDING, olga), 409, "evaluation-signed-off")
    api.post(f"{path}/recommendations/1/closure", {"outcome": "done"}, olga)
    problem(
        api.post(f"{path}/recommendations/1/closure", {"outcome": "again"}, olga),
        409,
        "recommendation-closed",
    )
    assert api.get(path, olga).json()["version"] == 5


def test_reads_need_a_supervising_role_and_a_real_evaluation(api: Api, olga: str) -> None:
    item = api.post("/items", {"theme": "t", "format": "f", "target_audience": "a", "expected_effect": "e",
                               "platforms": ["wechat"]}, api.marketing).json()["id"]  # fmt: skip
    problem(api.get(f"/evaluations/{item}", olga), 404, "not-found")
    evaluation = opened(api, olga)
    problem(api.get(f"/evaluations/{evaluation}", api.marketing), 403, "forbidden")
    problem(api.get("/reports/quarterly?quarter=2026Q3", api.marketing), 403, "forbidden")
    problem(api.get("/reports/quarterly?quarter=2026-Q3", olga), 422, "validation-error")
    problem(api.get("/reports/quarterly", olga), 422, "validation-error")
    report = api.get("/reports/quarterly?quarter=2026Q1", olga)
    assert report.status_code == 200
    assert report.json()["rows"] == []


def test_the_queue_shows_what_awaits_sign_off_or_closure_and_an_overdue_periodic_check(
    api: Api, olga: str, sam: str
) -> None:
    def queue(after: Any) -> dict[str, Any]:
        response = api.get("/queues/evaluations", olga, wait_for_position=after.headers["Log-Position"])
        assert response.status_code == 200, response.text
        assert "Projection-Stale" not in response.headers
        return dict(response.json())

    empty = api.get("/queues/evaluations", olga).json()
    assert empty == {"evaluations": [], "recommendations": [],
                     "periodic_check": {"last_period_last": None, "interval_days": 30, "next_due": None,
                                        "overdue": True}}  # fmt: skip

    check = opened(
        api, olga, {"kind": "periodic_check", "period_first": "2026-06-01", "period_last": "2026-06-30"}
    )
    api.post(f"/evaluations/{check}/findings", FINDING, olga)
    late = {**RECOMMENDATION, "due_date": "2026-07-01"}
    api.post(f"/evaluations/{check}/recommendations", late, olga)
    quarterly = opened(api, olga)
    api.post(f"/evaluations/{quarterly}/findings", FINDING, olga)
    last = api.post(
        f"/evaluations/{quarterly}/recommendations", {**RECOMMENDATION, "due_date": "2099-01-01"}, olga
    )

    waiting = queue(last)
    assert [(e["evaluation_id"], e["kind"], e["findings"]) for e in waiting["evaluations"]] == [
        (check, "periodic_check", 1), (quarterly, "quarterly_evaluation", 1),
    ]  # fmt: skip
    assert [(r["evaluation_id"], r["overdue"]) for r in waiting["recommendations"]] == [
        (check, True), (quarterly, False),
    ]  # fmt: skip
    assert waiting["periodic_check"] == {
        "last_period_last": "2026-06-30", "interval_days": 30, "next_due": "2026-07-30", "overdue": True,
    }  # fmt: skip

    api.post(f"/evaluations/{check}/sign-off", {}, sam)
    closed = api.post(f"/evaluations/{check}/recommendations/1/closure", {"outcome": "done"}, olga)
    after = queue(closed)
    assert [e["evaluation_id"] for e in after["evaluations"]] == [quarterly]
    assert [r["evaluation_id"] for r in after["recommendations"]] == [quarterly]
    problem(api.get("/queues/evaluations", api.marketing), 403, "forbidden")


@pytest.mark.parametrize("backend", ["sqlite"])  # negotiation only: one backend is enough
@pytest.mark.parametrize(
    ("accept", "csv"),
    [
        ("text/csv", True),
        ("TEXT/CSV", True),  # media types are case-insensitive
        ("application/json;q=0.5, text/csv", True),
        ("text/csv;q=0, application/json", False),  # CSV refused outright
        ("text/csv;q=0.2, */*", False),
        ("text/csvx", False),
        ("*/*", False),
        ("text/csv;q=inf, application/json;q=0.5", False),  # no weight of RFC 9110: nothing acceptable
        ("text/csv;q=nan", False),
        ("text/csv;q=0.500", True),
    ],
)
def test_the_quarterly_report_is_csv_when_the_accept_header_prefers_it(
    api: Api, olga: str, accept: str, csv: bool
) -> None:
    response = api.get("/reports/quarterly?quarter=2026Q3", olga, Accept=accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv" if csv else "application/json")
    assert response.headers["vary"] == "Accept"  # either way: a cache keys the answer on Accept


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_accept_header_sent_as_two_lines_is_read_as_one_list(api: Api, olga: str) -> None:
    # RFC 9110 5.3: a list header's lines combine in order; the second line's CSV counts too.
    accepts = [("Accept", "application/json;q=0.5"), ("Accept", "text/csv")]
    lines = [("Authorization", f"Bearer {olga}"), *accepts]
    response = api.client.get("/reports/quarterly?quarter=2026Q3", headers=lines)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
