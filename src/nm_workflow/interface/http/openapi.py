"""OpenAPI post-processing: problem responses are application/problem+json, with examples."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

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
_REF = {"$ref": "#/components/schemas/Problem"}


def _example(status: int) -> dict[str, Any]:
    slug = _EXAMPLE_SLUG.get(status, "internal-error")
    title = catalogue()[slug][1]
    return {"type": f"/problems/{slug}", "title": title, "status": status, "detail": title + "."}


def _problem_content(operation: dict[str, Any]) -> None:
    for code, response in operation.get("responses", {}).items():
        if code.isdigit() and int(code) >= 400:
            response["content"] = {MEDIA_TYPE: {"schema": _REF, "example": _example(int(code))}}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for path in schema["paths"].values():
                for operation in path.values():
                    _problem_content(operation)
            for unused in ("HTTPValidationError", "ValidationError"):
                schema["components"]["schemas"].pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
