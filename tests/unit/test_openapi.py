"""The OpenAPI document is complete: models, problem responses and examples for every operation."""

from __future__ import annotations

from typing import Any

import pytest

from nm_workflow.application.settings import Settings
from nm_workflow.interface.http.app import create_app

SCHEMA: dict[str, Any] = create_app(Settings()).openapi()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
]


# POSTs that change nothing (a body too rich for a query string): no 409 or 412.
QUERIES_BY_POST = {"/compliance/check"}


def _component(ref: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in ref:  # an optional body
        ref = next(r for r in ref["anyOf"] if "$ref" in r)
    name = ref["$ref"].rsplit("/", 1)[-1]
    component: dict[str, Any] = SCHEMA["components"]["schemas"][name]
    return component


@pytest.mark.parametrize(
    ("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_every_operation_is_documented(method: str, path: str, operation: dict[str, Any]) -> None:
    assert operation.get("summary"), "a summary"
    assert operation.get("description"), "a one-line docstring"
    success = [c for c in operation["responses"] if c.startswith("2")]
    assert success, "a success response"
    assert "schema" in operation["responses"][success[0]]["content"]["application/json"]
    problems = {c: r for c, r in operation["responses"].items() if int(c) >= 400}
    assert problems, "its problem responses"
    for response in problems.values():
        content = response["content"]["application/problem+json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert content["example"]["type"].startswith("/problems/")
    if method == "POST":
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert _component(body).get("examples"), "a request example"
        command = path not in QUERIES_BY_POST
        assert {"401", "403", "422", "503"} | ({"409", "412"} if command else set()) <= set(problems)


def test_item_responses_carry_an_example() -> None:
    assert _component({"$ref": "#/components/schemas/ItemOut"})["examples"]


def test_the_generic_validation_error_is_replaced_by_problem_details() -> None:
    assert "HTTPValidationError" not in SCHEMA["components"]["schemas"]
