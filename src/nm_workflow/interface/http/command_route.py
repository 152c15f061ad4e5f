"""The command routes' own handler: FastAPI declares a command route, this runs it.

FastAPI's handler solves each route's dependency tree anew for every request: a nested solve
per dependency, a cache key per solve, a `Response` made for headers nobody sets, the body
parsed again after the body gate parsed it. For a command that was the largest part of what the
framework cost (docs/performance-history.md, "The command path's CPU"; ADR 0053). A command
route has one shape: path parameters, at most one JSON body, the command context and services
taken from the request, an endpoint answering a `Response`. For that shape `CommandRoute` builds,
once per route, a handler doing only that: the same validation by the same fields (so the same
errors, in the same order: the dependencies first, then the path, then the body), the endpoint in
a worker thread (`thread_hop.in_thread`, under the same bound on threads as the framework's pool,
in fewer steps; ADR 0075), or, where the app runs commands on the event loop (SQLite), on the loop
itself (`loop_bridge.run_on_loop`, ADR 0079) unless marked `long_command`. A route of any other
shape keeps FastAPI's handler (its plain `def` endpoint through the same hop: `HopRoute`, ADR
0077), and the OpenAPI document is made from the route's declaration as before.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response

from nm_workflow.application.loop_bridge import run_on_loop
from nm_workflow.interface.http.deps import command_context
from nm_workflow.interface.http.hop_route import Handler, HopRoute, declaration
from nm_workflow.interface.http.protocol import PARSED_BODY
from nm_workflow.interface.http.thread_hop import in_thread

E = TypeVar("E", bound=Callable[..., Any])


class CommandRoute(HopRoute):
    """A route run by `command_handler` when it has a command's shape, else as a `HopRoute` (a
    read's plain `def` endpoint through the same hop as a command's, FastAPI's handler around it)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        self.command: Handler | None = None
        super().__init__(path, endpoint, **options)
        self.own_handler = self.command is not None
        if self.command is not None:
            # Starlette's wrapper (the exception handlers), without FastAPI's two exit stacks per
            # request: they serve dependencies with `yield`, which a command's shape has none of.
            self.app = request_response(self.command)

    def get_route_handler(self) -> Handler:
        # Asked by FastAPI's `__init__`, once the route's dependant is built, and by `include_router`
        # for each inclusion (its declaration holds the router's dependencies: `declaration`).
        declared = declaration(self)
        command = command_handler(declared.dependant, declared._embed_body_fields)
        if declared is self:
            self.command = command
        return command or super().get_route_handler()


def command_handler(dependant: Dependant, embed_body_fields: bool) -> Handler | None:
    """The handler of a command route (see the module), or None for a route of another shape."""
    if not _is_command(dependant, embed_body_fields):
        return None
    endpoint = dependant.call
    assert endpoint is not None
    dependencies = [(sub.name, sub.call) for sub in dependant.dependencies]
    path_params = [(field, field.alias) for field in dependant.path_params]
    body = dependant.body_params[0] if dependant.body_params else None
    request_name = dependant.request_param_name
    long = getattr(endpoint, _LONG, False)

    async def handle(request: Request) -> Response:
        values: dict[str, Any] = {}
        for name, call in dependencies:  # the context first: a bad key or header wins over the body
            value = await call(request)  # type: ignore[misc]
            if name is not None:  # None: the route's `dependencies=[...]`, run for their effect only
                values[name] = value
        errors: list[Any] = []
        path = request.scope["path_params"]
        for field, alias in path_params:
            values[field.name], found = field.validate(path[alias], loc=("path", alias))
            errors += found
        if body is not None:
            values[body.name], found = _validated_body(body, await _json_body(request))
            errors += found
        if errors:
            raise RequestValidationError(errors, body=None)
        if request_name is not None:
            values[request_name] = request
        call = partial(endpoint, **values)
        on_loop = not long and getattr(request.app.state, "commands_on_loop", False)
        answer = await (run_on_loop(call) if on_loop else in_thread(call))
        if not isinstance(answer, Response):  # every command answers its own response
            raise TypeError(f"{endpoint.__name__} answered {type(answer).__name__}, not a Response")
        return answer

    return handle


def long_command(endpoint: E) -> E:
    """Mark a command endpoint whose work is long (a fold of the whole log, a batch of hundreds of
    items): it runs in a worker thread even where commands run on the event loop (ADR 0079), so
    that the loop never waits for it."""
    setattr(endpoint, _LONG, True)
    return endpoint


_LONG = "_nm_long_command"


def _is_command(dependant: Dependant, embed_body_fields: bool) -> bool:
    """A command's shape: the command context among request-only coroutine dependencies, path
    parameters, at most one JSON body (not embedded, not a form), a plain `def` endpoint."""
    calls = [sub.call for sub in dependant.dependencies]
    return (
        command_context in calls
        and all(_takes_only_the_request(sub) for sub in dependant.dependencies)
        and not (dependant.query_params or dependant.header_params or dependant.cookie_params)
        and len(dependant.body_params) <= 1
        and not embed_body_fields
        and not any(
            (
                dependant.http_connection_param_name,
                dependant.websocket_param_name,
                dependant.response_param_name,
                dependant.background_tasks_param_name,
                dependant.security_scopes_param_name,
            )
        )
        and not _is_coroutine(dependant.call)
        and all(type(field.field_info) is params.Body for field in dependant.body_params)
    )


def _takes_only_the_request(sub: Dependant) -> bool:
    return (
        _is_coroutine(sub.call)
        and sub.request_param_name is not None
        and not (sub.dependencies or sub.path_params or sub.query_params or sub.header_params)
        and not (sub.cookie_params or sub.body_params or sub.security_scopes_param_name)
        and getattr(sub, "concurrency", None) is None  # a limit of its own (newer FastAPI)
    )


def _is_coroutine(call: Callable[..., Any] | None) -> bool:
    return inspect.iscoroutinefunction(call)


_NO_BODY = object()


async def _json_body(request: Request) -> Any:
    """The body's JSON value as the body gate parsed it; `_NO_BODY` for an empty body (the gate
    refused any other body a route takes: not JSON, broken JSON)."""
    if PARSED_BODY in request.scope:
        return request.scope[PARSED_BODY]
    raw = await request.body()
    return json.loads(raw) if raw else _NO_BODY  # an app without the gate (none is served so)


def _validated_body(field: Any, value: Any) -> tuple[Any, list[Any]]:
    """As FastAPI validates a lone body: "missing" at `("body",)` for none where one is required,
    the default (not validated) for none where it is optional."""
    if value is _NO_BODY:
        if field.field_info.is_required():
            return None, [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        return field.default, []
    validated: tuple[Any, list[Any]] = field.validate(value, loc=("body",))
    return validated
