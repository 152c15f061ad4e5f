"""OpenAPI post-processing: the document says exactly what the service does.

- Problem responses are application/problem+json, with an example and the headers they carry.
- Each operation names the roles that may call it, derived from application/security.py's
  PERMISSIONS (`callers(...)` on the route; `x-roles` and a sentence in the description).
- A parameter that may be left out is not nullable: its schema is the non-null branch alone,
  with every constraint (`pattern`, ...) on it; `If-Match: null` is not a valid header.
- Every parameter and every 2xx response has an example (composed from the models' own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from copy import deepcopy
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from nm_workflow.application.security import PERMISSIONS, Command
from nm_workflow.interface.http.problems import MEDIA_TYPE, catalogue

# The problem a client most often meets with each status, shown as the example.
_EXAMPLE_SLUG = {
    400: "invalid-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    409: "invalid-transition",
    412: "version-mismatch",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    503: "store-unavailable",
}
_PROBLEM_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": 'Bearer realm="nm-workflow"', "schema": {"type": "string"}}},
    412: {"ETag": {"description": 'The current version, e.g. "5"', "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}},
}
_REF = {"$ref": "#/components/schemas/Problem"}


def callers(*commands: Command) -> dict[str, Any]:
    """Route keyword arguments naming who may call an operation that issues one of `commands`.

    Several commands: the operation issues one of them depending on its input (the stage).
    No command: anyone, without an API key.
    """
    extra: dict[str, Any] = {"x-roles": sorted({role.value for c in commands for role in PERMISSIONS[c]})}
    if len(commands) > 1:
        extra["x-roles-by-command"] = {c.value: sorted(r.value for r in PERMISSIONS[c]) for c in commands}
    return {"openapi_extra": extra}


def _roles_sentence(operation: dict[str, Any]) -> str:
    if "x-roles-by-command" in operation:
        each = "; ".join(f"`{c}`: {', '.join(r)}" for c, r in operation["x-roles-by-command"].items())
        return f"**Roles:** {each}."
    if not operation["x-roles"]:
        return "**Roles:** anyone; no API key needed."
    return f"**Roles:** {', '.join(operation['x-roles'])}."


def _problem_example(status: int) -> dict[str, Any]:
    slug = _EXAMPLE_SLUG.get(status, "internal-error")
    title = catalogue()[slug][1]
    return {"type": f"/problems/{slug}", "title": title, "status": status, "detail": title + "."}


def _responses(operation: dict[str, Any], components: dict[str, Any]) -> None:
    for code, response in operation.get("responses", {}).items():
        if code.isdigit() and int(code) >= 400:
            response["content"] = {MEDIA_TYPE: {"schema": _REF, "example": _problem_example(int(code))}}
            if int(code) in _PROBLEM_HEADERS:
                response["headers"] = _PROBLEM_HEADERS[int(code)]
        elif code.startswith("2"):
            for media in response.get("content", {}).values():
                if "example" not in media:
                    media["example"] = example_of(media["schema"], components)


def _parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter["schema"]
        branches = [b for b in schema.get("anyOf", ()) if b.get("type") != "null"]
        if len(branches) == 1:  # absent is how a parameter is left out; null is no value of it
            constraints = {k: v for k, v in schema.items() if k != "anyOf"}
            parameter["schema"] = schema = {**branches[0], **constraints}
        if "examples" in schema:
            parameter.setdefault("example", schema["examples"][0])


def example_of(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """An example value of `schema`: its own, its component's, or one composed from its parts."""
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "$ref" in schema:
        return example_of(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "anyOf" in schema:
        return example_of(next(b for b in schema["anyOf"] if b.get("type") != "null"), components)
    if schema.get("type") == "array":
        return [example_of(schema["items"], components)]
    if "properties" in schema:
        return {name: example_of(part, components) for name, part in schema["properties"].items()}
    if "enum" in schema:
        return schema["enum"][0]
    raise ValueError(f"no example for the schema {schema}: give the model or field one")


def _restore_examples(components: dict[str, Any]) -> None:
    """The framework drops every null from the document, examples included; put the models' back."""
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        extra = model.model_config.get("json_schema_extra")
        ours = model.__module__.startswith("nm_workflow.") and model.__name__ in components
        if ours and isinstance(extra, dict) and "examples" in extra:
            components[model.__name__]["examples"] = extra["examples"]


ByHand = Mapping[Callable[..., Any], Callable[..., None]]


def install(app: FastAPI, read_by_hand: ByHand | None = None) -> None:
    """Serve the post-processed document at /openapi.json.

    `read_by_hand`: dependencies that read some headers from the request themselves (a declared
    header, or a security scheme's dependency, costs the framework more per request than reading
    it), each with a function whose signature declares those headers and that scheme: they are
    documented on every operation using the dependency.
    """
    read_by_hand = read_by_hand or {}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema["components"]["schemas"]
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            _restore_examples(components)
            _headers_read_by_hand(schema, getattr(app.state, "api_routes", []), read_by_hand)
            for path in schema["paths"].values():
                for operation in path.values():
                    _responses(operation, components)
                    _parameters(operation)
                    operation["description"] += "\n\n" + _roles_sentence(operation)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _headers_read_by_hand(schema: dict[str, Any], routes: list[Any], read_by_hand: ByHand) -> None:
    """Document on each operation of a `read_by_hand` dependency the headers and the security scheme
    it reads itself (the same JSON as when they were the framework's; the keys' order may differ)."""
    declared = {dependency: _declared(declaring, schema) for dependency, declaring in read_by_hand.items()}
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for call in {d.call for d in _dependencies(route.dependant) if d.call is not None} & declared.keys():
            parameters, security = declared[call]
            for method in route.methods or ():
                operation = schema["paths"][route.path_format][method.lower()]
                operation.setdefault("parameters", []).extend(deepcopy(parameters))
                if security:
                    operation.setdefault("security", deepcopy(security))


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


def _declared(declaring: Callable[..., None], schema: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The parameters and the security the framework documents for `declaring`'s signature; its
    security schemes are added to `schema`'s components."""
    scratch = FastAPI()
    scratch.post("/")(declaring)
    document = get_openapi(title="", version="", routes=scratch.routes)
    schemes = document.get("components", {}).get("securitySchemes", {})
    if schemes:
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(schemes)
    operation = document["paths"]["/"]["post"]
    return operation.get("parameters", []), operation.get("security", [])
