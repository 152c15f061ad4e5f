"""Values at the edges: extreme times, huge cursors, loose types, odd keys and ids; never a 500."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any, get_args
from urllib.parse import quote
from uuid import UUID

import pytest

from nm_workflow.interface.http.routes_interactions import NextStep
from projections.interaction_queue import next_step
from tests.e2e.api import DRAFT, OBSERVED_AT, PLAN, Api, at
from tests.e2e.test_errors import _assert_problem
from tests.e2e.test_reads import _wait

TOO_LATE_IN_UTC = "9999-12-31T23:59:59-14:00"  # the year 10000 once in UTC
TOO_EARLY_IN_UTC = "0001-01-01T00:00:00+14:00"  # the year 0 once in UTC


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _observation(**changes: Any) -> dict[str, Any]:
    return {"platform": "wechat", "observed_at": OBSERVED_AT, "counters": {"likes": 3}, **changes}


@pytest.mark.parametrize("moment", [TOO_LATE_IN_UTC, TOO_EARLY_IN_UTC, 1767225600, "2027-13-01T00:00:00Z"])
def test_times_outside_utc_or_not_written_out_are_422_naming_the_field(api: Api, moment: object) -> None:
    item, content_hash = api.approved()
    head = api.client.app.state.store.head()  # type: ignore[attr-defined]
    schedule = {"platform": "wechat", "at": moment}
    publication = {
        "platform": "wechat",
        "published_at": moment,
        "external_id": "x",
        "content_hash": content_hash,
    }
    for path, body, field in [
        (f"/items/{item}/schedule", schedule, "body.at"),
        (f"/items/{item}/publications", publication, "body.published_at"),
    ]:
        problem = _assert_problem(api.post(path, body, api.marketing), 422, "/problems/validation-error")
        assert problem["errors"][0]["field"] == field  # type: ignore[index]
    assert api.client.app.state.store.head() == head  # type: ignore[attr-defined]


def test_an_observation_time_outside_utc_is_422(api: Api) -> None:
    item = api.published()
    response = api.post(f"/items/{item}/metrics", _observation(observed_at=TOO_LATE_IN_UTC), api.analyst)
    _assert_problem(response, 422, "/problems/validation-error")


@pytest.mark.parametrize("query", [f"from={TOO_EARLY_IN_UTC}", f"to={TOO_LATE_IN_UTC}"])
def test_audit_trail_bounds_outside_utc_are_422(api: Api, query: str) -> None:
    auditor = api.key("aud", "auditor", "audit")
    response = api.client.get("/audit-trail", params=dict([query.split("=", 1)]), headers=_auth(auditor))
    _assert_problem(response, 422, "/problems/validation-error")


def test_as_of_outside_utc_is_422(api: Api) -> None:
    item = api.planned()
    response = api.client.get(
        f"/items/{item}",
        params={"as_of": TOO_LATE_IN_UTC},
        headers={"Authorization": f"Bearer {api.marketing}"},
    )
    _assert_problem(response, 422, "/problems/validation-error")


@pytest.mark.parametrize("position", [2**63, -1, -(2**63) - 1])
@pytest.mark.parametrize(("path", "kind"), [("/items", "item_status"), ("/publications", "publication_log")])
def test_a_cursor_with_a_position_no_list_has_is_invalid(
    api: Api, path: str, kind: str, position: int
) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps([kind, position]).encode()).decode().rstrip("=")
    response = api.client.get(
        path, params={"cursor": cursor}, headers={"Authorization": f"Bearer {api.marketing}"}
    )
    _assert_problem(response, 422, "/problems/invalid-cursor")


@pytest.mark.parametrize("revision", ["1", True, 1.0])
def test_a_revision_must_be_a_json_integer(api: Api, revision: object) -> None:
    item = api.drafted()
    response = api.post(f"/items/{item}/review-requests", {"revision": revision}, api.marketing)
    _assert_problem(response, 422, "/problems/validation-error")


def test_counters_must_be_json_integers(api: Api) -> None:
    item = api.published()
    response = api.post(f"/items/{item}/metrics", _observation(counters={"likes": "3"}), api.analyst)
    _assert_problem(response, 422, "/problems/validation-error")


def test_a_planned_date_must_be_written_out(api: Api) -> None:
    response = api.post("/items", {**PLAN, "planned_publish_date": 20270301}, api.marketing)
    body = _assert_problem(response, 422, "/problems/validation-error")
    assert "ISO 8601" in str(body["detail"])


def test_unreported_counters_are_unknown_not_zero_and_totals_carry_forward(api: Api) -> None:
    item = api.published()
    api.post(f"/items/{item}/metrics", _observation(counters={"impressions": 1000, "likes": 50}), api.analyst)
    later = _observation(observed_at=at(2), counters={"likes": 80, "clicks": 9})
    measured = api.post(f"/items/{item}/metrics", later, api.analyst)
    assert measured.status_code == 200, measured.text

    metrics = api.get(f"/items/{item}/metrics", api.analyst, **_wait(measured)).json()
    (latest,) = metrics["latest"]
    assert (latest["likes"], latest["clicks"], latest["impressions"]) == (80, 9, 1000)
    assert latest["conversions"] is None  # never reported
    assert (latest["observations"], latest["observed_at"]) == (2, at(2))
    assert (latest["interaction_rate"], latest["conversion_rate"]) == (0.08, None)
    assert [row["impressions"] for row in metrics["history"]] == [1000, None]
    carried = api.get(f"/items/{item}", api.analyst).json()["latest_metrics"]["wechat"]["counters"]
    assert carried == {"impressions": 1000, "likes": 80, "clicks": 9}
    assert all("observations" not in row for row in metrics["history"])


def test_an_observation_reports_at_least_one_counter(api: Api) -> None:
    item = api.published()
    response = api.post(f"/items/{item}/metrics", _observation(counters={}), api.analyst)
    _assert_problem(response, 422, "/problems/rule-violation")


def test_metrics_cannot_be_observed_before_the_publication(api: Api) -> None:
    item = api.published()  # on wechat at PUBLISHED_AT
    response = api.post(f"/items/{item}/metrics", _observation(observed_at=at(seconds=-1)), api.analyst)
    _assert_problem(response, 422, "/problems/observed-before-publication")
    response = api.post(f"/items/{item}/metrics", _observation(observed_at=at()), api.analyst)
    assert response.status_code == 200, response.text


def test_metrics_of_an_unknown_item_are_404(api: Api) -> None:
    response = api.get("/items/00000000-0000-4000-8000-000000000000/metrics", api.analyst)
    _assert_problem(response, 404, "/problems/not-found")


def test_an_item_not_measured_yet_has_empty_metrics(api: Api) -> None:
    item = api.published()
    response = api.get(f"/items/{item}/metrics", api.analyst)
    assert response.status_code == 200
    assert (response.json()["latest"], response.json()["history"]) == ([], [])


def test_the_id_of_something_else_reads_as_an_unknown_item(api: Api) -> None:
    key_id = api.marketing.split("_")[1]
    unknown = "0" * 32
    answers = [api.get(f"/items/{some_id}", api.marketing) for some_id in (key_id, unknown)]
    details = [_assert_problem(a, 404, "/problems/not-found")["detail"] for a in answers]
    assert details == [f"No ContentItem with id {UUID(hex=some_id)}." for some_id in (key_id, unknown)]


def test_only_the_printed_form_of_a_key_authenticates(api: Api) -> None:
    _, key_hex, secret = api.marketing.split("_", 2)
    dashed = f"{key_hex[:8]}-{key_hex[8:12]}-{key_hex[12:16]}-{key_hex[16:20]}-{key_hex[20:]}"
    for spelling in (f"{{{key_hex}}}", f"urn:uuid:{dashed}", dashed, key_hex.upper()):
        response = api.get("/items", f"nmk_{spelling}_{secret}")
        _assert_problem(response, 401, "/problems/unauthenticated")
    assert api.get("/items", api.marketing).status_code == 200


def test_an_unknown_and_a_wrong_key_get_the_same_answer(api: Api) -> None:
    _, key_hex, secret = api.marketing.split("_", 2)
    unknown = api.get("/items", f"nmk_{'0' * 32}_{secret}")
    wrong = api.get("/items", f"nmk_{key_hex}_not-the-secret")
    assert (
        _assert_problem(unknown, 401, "/problems/unauthenticated")["detail"]
        == _assert_problem(wrong, 401, "/problems/unauthenticated")["detail"]
    )


@pytest.mark.parametrize("value", ['"1', '1"', '"02"', '"0"', '""', '"1", "2"', 'W/"1"'])
def test_an_if_match_that_is_not_one_of_our_etags_is_400(api: Api, value: str) -> None:
    item = api.planned()
    response = api.post(f"/items/{item}/drafts", DRAFT, api.marketing, if_match=value)
    _assert_problem(response, 400, "/problems/invalid-request")


@pytest.mark.parametrize("header", ["If-Match", "Idempotency-Key", "X-Correlation-Id"])
def test_a_command_header_sent_twice_is_400_not_silently_the_first(api: Api, header: str) -> None:
    item = api.planned()
    headers = [("Authorization", f"Bearer {api.marketing}"), (header, '"1"'), (header, '"1"')]
    response = api.client.post(f"/items/{item}/drafts", json=DRAFT, headers=headers)
    body = _assert_problem(response, 400, "/problems/invalid-request")
    assert f"Send the {header} header once" in str(body["detail"])
    assert api.get(f"/items/{item}", api.marketing).headers["etag"] == '"1"'


def test_a_bare_or_quoted_version_is_accepted_as_if_match(api: Api) -> None:
    item = api.planned()
    assert api.post(f"/items/{item}/drafts", DRAFT, api.marketing, if_match="1").status_code == 200
    assert api.post(f"/items/{item}/drafts", DRAFT, api.marketing, if_match='"2"').status_code == 200


def test_a_filter_with_nul_is_422_on_both_databases_not_a_match_of_another_value(api: Api) -> None:
    """PostgreSQL's parameters carry U+FFFD for NUL: a NUL filter would match the text "\ufffd" there."""
    replacement = "\ufffd"
    planned = api.post("/items", {**PLAN, "campaign": replacement}, api.marketing)
    found = api.get(f"/items?campaign={quote(replacement)}", api.marketing, **_wait(planned))
    assert [row["item_id"] for row in found.json()["items"]] == [planned.json()["id"]]
    auditor = api.key("aud", "auditor", "audit")
    for path, name, key in [
        ("/items", "campaign", api.marketing),
        ("/items", "department", api.marketing),
        ("/items", "state", api.marketing),
        ("/queues/interactions", "next_step", api.marketing),
        ("/publications", "platform", api.marketing),
        ("/audit-trail", "actor", auditor),
    ]:
        response = api.client.get(path, params={name: "\x00"}, headers=_auth(key))
        problem = _assert_problem(response, 422, "/problems/validation-error")
        assert problem["errors"][0]["field"] == f"query.{name}"  # type: ignore[index]


def test_a_platform_filter_reads_the_platform_as_commands_store_it(api: Api) -> None:
    """A publication sent for "WeChat " is stored for "wechat": filtering on "WeChat" finds it."""
    item = api.published("WeChat ")
    head = str(api.client.app.state.store.head())  # type: ignore[attr-defined]
    for path in ("/publications", "/items"):
        wait = _auth(api.marketing) | {"Wait-For-Position": head}
        found = api.client.get(path, params={"platform": " WeChat"}, headers=wait)
        assert [row["item_id"] for row in found.json()["items"]] == [item], path


def test_name_filters_are_trimmed_as_the_stored_names_were(api: Api) -> None:
    planned = api.post("/items", {**PLAN, "campaign": " spring "}, api.marketing)
    wait = {"Wait-For-Position": planned.headers["Log-Position"]}
    auditor = api.key("aud", "auditor", "audit")
    for path, name, value, key in [
        ("/items", "campaign", " spring\t", api.marketing),
        ("/items", "department", " marketing ", api.marketing),
        ("/items", "state", " planned ", api.marketing),
        ("/audit-trail", "actor", "mia ", auditor),
    ]:
        found = api.client.get(path, params={name: value}, headers=_auth(key) | wait).json()["items"]
        assert planned.json()["id"] in {row.get("item_id", row.get("aggregate_id")) for row in found}, name
    # A control character is no white space: no stored name starts with one, so nothing is found.
    found = api.client.get(
        "/items", params={"department": "\x1fmarketing"}, headers=_auth(api.marketing) | wait
    )
    assert found.json()["items"] == []


def test_a_state_no_item_can_be_in_is_refused_not_answered_with_an_empty_list(api: Api) -> None:
    response = api.client.get("/items", params={"state": "Published"}, headers=_auth(api.marketing))
    problem = _assert_problem(response, 422, "/problems/validation-error")
    assert problem["errors"][0]["field"] == "query.state"  # type: ignore[index]
    assert "in_review" in problem["errors"][0]["message"]  # type: ignore[index]


def test_the_next_step_filter_names_exactly_the_steps_the_queue_writes() -> None:
    due = datetime(2026, 11, 30, tzinfo=UTC)
    rows: list[dict[str, Any]] = [
        {"response_due": due, "handling_due": None, "escalation": None},
        {"response_due": None, "handling_due": due, "escalation": None},
        {"response_due": None, "handling_due": None, "escalation": "escalated"},
        {"response_due": None, "handling_due": None, "escalation": "handled"},
    ]
    assert {next_step(row)[0] for row in rows} == set(get_args(NextStep))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_wait_timeout_that_is_no_number_of_seconds_is_refused_as_such(api: Api, value: str) -> None:
    response = api.client.get("/items", headers=_auth(api.marketing) | {"Wait-Timeout": value})
    problem = _assert_problem(response, 422, "/problems/validation-error")
    assert "finite number" in problem["errors"][0]["message"]  # type: ignore[index]


def test_a_platform_or_filter_with_a_control_character_is_not_trimmed_into_a_name(api: Api) -> None:
    # Text is trimmed of Unicode White_Space only (domain/text.py): U+001F is a control
    # character, which str.strip() also took, turning "\x1fwechat" into "wechat".
    refused = api.post("/items", {**PLAN, "platforms": ["\x1fwechat"]}, api.marketing)
    _assert_problem(refused, 422, "/problems/validation-error")
    planned = api.post(
        "/items", {**PLAN, "platforms": [" WeChat\u3000"]}, api.marketing
    )  # White_Space: trimmed
    assert planned.status_code == 201, planned.text
    wait = _auth(api.marketing) | {"Wait-For-Position": planned.headers["Log-Position"]}
    for value, found in [("\x1fwechat", False), ("\u3000wechat ", True)]:
        rows = api.client.get("/items", params={"platform": value}, headers=wait).json()["items"]
        assert (planned.json()["id"] in {row["item_id"] for row in rows}) is found, repr(value)
