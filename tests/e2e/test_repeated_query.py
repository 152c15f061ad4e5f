"""A query parameter sent twice is refused (400 invalid-request), as a header sent twice is:
the framework would silently take the last value."""

from __future__ import annotations

import pytest

from nm_workflow.domain.roles import Role
from tests.e2e.api import PLAN, Api
from tests.e2e.test_errors import _assert_problem

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # no database-specific part


@pytest.mark.parametrize("query", ["after=1&after=2", "after=1&limit=5&a%66ter=2"])
def test_a_query_parameter_sent_twice_is_refused_naming_it(api: Api, query: str) -> None:
    auditor = api.key("audrey", Role.AUDITOR, "audit")

    body = _assert_problem(api.get(f"/events?{query}", auditor), 400, "/problems/invalid-request")

    assert body["detail"] == "Send the query parameter 'after' once."
    assert body["instance"] == "/events"


def test_a_command_with_a_parameter_sent_twice_writes_nothing(api: Api) -> None:
    key = api.marketing
    head = api.client.app.state.store.head()  # type: ignore[attr-defined]

    response = api.post("/items?note=a&note=b", PLAN, key)

    _assert_problem(response, 400, "/problems/invalid-request")
    assert api.client.app.state.store.head() == head  # type: ignore[attr-defined]


def test_distinct_parameters_and_unrouted_paths_are_answered_as_before(api: Api) -> None:
    auditor = api.key("audrey", Role.AUDITOR, "audit")

    assert api.get("/events?after=0&limit=5", auditor).status_code == 200
    _assert_problem(api.get("/nowhere?a=1&a=2", auditor), 404, "/problems/no-such-resource")
