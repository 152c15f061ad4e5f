"""Every error becomes RFC 9457 problem+json here, from one table."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from nm_workflow.application.errors import (
    AuthenticationFailed,
    ConcurrentModification,
    CursorOutOfRange,
    FiguresStale,
    IdempotencyKeyReused,
    NotFound,
    NotInTree,
    PermissionDenied,
    ProjectionsBehind,
    StoreUnavailable,
    TreeSizeBeyondLog,
    VersionMismatch,
)
from nm_workflow.domain.errors import (
    DutySegregationViolation,
    InvalidTransition,
    RuleViolation,
    WorkflowError,
)
from projections import InvalidQuery, RebuildRefused, RebuildRunning, UnknownProjection

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("nm_workflow.http")


class InvalidRequest(WorkflowError):
    """A header or query parameter the client sent cannot be understood."""

    slug = "invalid-request"
    title = "The request is malformed"


STATUS: dict[type[WorkflowError], int] = {
    InvalidRequest: 400,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    DutySegregationViolation: 403,
    NotFound: 404,
    ConcurrentModification: 409,
    InvalidTransition: 409,
    VersionMismatch: 412,
    IdempotencyKeyReused: 422,
    InvalidQuery: 422,
    UnknownProjection: 404,
    RebuildRunning: 409,
    RuleViolation: 422,
    StoreUnavailable: 503,
    ProjectionsBehind: 503,
    FiguresStale: 503,
    TreeSizeBeyondLog: 422,
    NotInTree: 422,
    CursorOutOfRange: 422,
    RebuildRefused: 409,
}


# Problems raised by the framework rather than by a WorkflowError.
PROTOCOL_PROBLEMS: dict[str, tuple[int, str]] = {
    "malformed-json": (400, "The body is not valid JSON"),
    "validation-error": (422, "The request does not match the schema"),
    "payload-too-large": (413, "The request body is too large"),
    "unsupported-media-type": (415, "The body must be JSON"),
    "no-such-resource": (404, "No such resource"),
    "method-not-allowed": (405, "Method not allowed"),
    "http-error": (400, "The HTTP request cannot be served"),
    "internal-error": (500, "Internal error"),
    "ambiguous-length": (400, "The request's length is given twice over"),
    "request-timeout": (408, "The request did not arrive in time"),
    "malformed-http": (400, "The request is not well-formed HTTP/1.1"),
    "head-too-large": (431, "The request's line and headers are too large"),
    "transfer-coding-not-implemented": (501, "The request's transfer coding is not implemented"),
}


EMPTY_BODY = "The body holds no JSON text (it is empty or only whitespace): send a JSON object (RFC 8259)."
"""`malformed-json`'s detail for a body without a JSON text, where the route needs one or one was sent."""


def as_sent(value: str) -> str:
    """A header value as the client wrote it, for a problem's detail: the server hands headers over
    as bytes decoded latin-1, so UTF-8 text (`"٣"`) would read garbled (`"Ù£"`). The bytes are read
    as UTF-8 instead, each byte that is not UTF-8 shown as U+FFFD; a value that did not come from
    the wire (not latin-1) is returned as it is."""
    try:
        return value.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        return value


def status_of(kind: type[WorkflowError]) -> int:
    return next((STATUS[k] for k in kind.__mro__ if k in STATUS), 500)


def catalogue() -> dict[str, tuple[int, str]]:
    """Every problem `type` slug this API can answer with: status and title."""
    found = dict(PROTOCOL_PROBLEMS)
    pending: list[type[WorkflowError]] = [WorkflowError]
    while pending:
        kind = pending.pop()
        if status_of(kind) != 500:  # the abstract bases are never raised
            found[kind.slug] = (status_of(kind), kind.title)
        pending.extend(kind.__subclasses__())
    return found


def problem(request: Request, status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
    body["instance"] = request.url.path
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def _workflow_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, WorkflowError)
    status = status_of(type(error))
    response = problem(
        request,
        status,
        error.slug,
        error.title,
        error.detail,
        current_version=getattr(error, "current_version", None),
    )
    if isinstance(error, AuthenticationFailed):
        response.headers["WWW-Authenticate"] = 'Bearer realm="nm-workflow"'
    if isinstance(error, (StoreUnavailable, ProjectionsBehind)):
        response.headers["Retry-After"] = str(request.app.state.settings.retry_after_seconds)
    if isinstance(error, VersionMismatch):
        response.headers["ETag"] = f'"{error.current_version}"'
    return response


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # A body that is too large, not JSON or broken JSON never gets here: see protocol.BodyGate.
    # Nor, answered alike, an empty one where the route needs a body (the gate lets an empty body
    # through: it is no body at all, which routes with an optional body accept).
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in error.errors()):
        slug = "malformed-json"
        return problem(request, PROTOCOL_PROBLEMS[slug][0], slug, PROTOCOL_PROBLEMS[slug][1], EMPTY_BODY)
    errors = [_field_error(e) for e in error.errors()]
    return problem(
        request,
        422,
        "validation-error",
        "The request does not match the schema",
        _summary(errors),
        errors=errors,
    )


def _field_error(error: Any) -> dict[str, Any]:
    location = [str(part) for part in error.get("loc", ())]
    return {"field": ".".join(location), "message": error.get("msg", ""), "type": error.get("type", "")}


def _summary(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    slug = {404: "no-such-resource", 405: "method-not-allowed"}.get(error.status_code, "http-error")
    title = PROTOCOL_PROBLEMS.get(slug, (0, "HTTP error"))[1]
    response = problem(request, error.status_code, slug, title, str(error.detail))
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    if error.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (the framework names only the first route's)."""
    allowed: set[str] = set()
    for route in request.app.state.api_routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            allowed |= route.methods
    if "GET" in allowed:
        allowed.add("HEAD")  # served by protocol.HeadAsGet
    return sorted(allowed)


def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # A bug of ours: log it whole, tell the client nothing internal.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem(
        request, 500, "internal-error", "Internal error", "The server failed; the incident is logged."
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(WorkflowError, _workflow_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
