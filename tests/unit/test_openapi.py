"""The OpenAPI document is complete: models, problem responses and examples for every operation."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
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
    content = operation["responses"][success[0]]["content"]
    # An event stream (GET /events/stream) is the one success answered only as text/event-stream.
    assert "schema" in content.get("application/json", content.get("text/event-stream", {}))
    problems = {c: r for c, r in operation["responses"].items() if int(c) >= 400}
    if operation.get("parameters") or "requestBody" in operation or operation["x-roles"]:
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


def _valid(value: Any, schema: dict[str, Any]) -> bool:
    return bool(jsonschema_rs.validator_for({**schema, "components": SCHEMA["components"]}).is_valid(value))


PARAMETERS = [
    (f"{method} {path} {parameter['in']} {parameter['name']}", parameter)
    for method, path, operation in OPERATIONS
    for parameter in operation.get("parameters", [])
]


@pytest.mark.parametrize(("name", "parameter"), PARAMETERS, ids=[name for name, _ in PARAMETERS])
def test_every_parameter_has_a_description_and_a_valid_example(name: str, parameter: dict[str, Any]) -> None:
    assert parameter.get("description")
    assert "example" in parameter
    assert _valid(parameter["example"], parameter["schema"])


@pytest.mark.parametrize(("name", "parameter"), PARAMETERS, ids=[name for name, _ in PARAMETERS])
def test_a_parameter_left_out_is_absent_never_null(name: str, parameter: dict[str, Any]) -> None:
    # A header or query value is text: "null" would be sent, and refused.
    assert not _valid(None, parameter["schema"])
    if "pattern" in str(parameter["schema"]):
        assert "pattern" in parameter["schema"], "the pattern constrains the value itself"


@pytest.mark.parametrize(
    ("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_every_success_has_an_example_valid_against_its_schema(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    for code, response in operation["responses"].items():
        for media in response["content"].values() if code.startswith("2") else ():
            assert _valid(media["example"], media["schema"]), f"{code}: {media['example']}"


@pytest.mark.parametrize(
    ("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_every_operation_names_the_roles_that_may_call_it(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    assert isinstance(operation["x-roles"], list)
    assert "**Roles:**" in operation["description"]
    for role in operation["x-roles"]:
        assert role in operation["description"]


def test_the_if_match_pattern_refuses_null_and_admits_an_etag() -> None:
    parameter = next(p for _, p in PARAMETERS if p["name"] == "if-match")
    assert not _valid(None, parameter["schema"])
    assert not _valid("null", parameter["schema"])
    assert _valid('"3"', parameter["schema"])
