"""A route whose plain `def` endpoint takes the command routes' hop to its thread.

FastAPI's handler runs a plain `def` endpoint through `run_in_threadpool` (anyio's
`to_thread.run_sync`, about 191,500 instructions a hop against `thread_hop.in_thread`'s 46,000;
ADR 0075), and, when the endpoint answers a value to validate against its response model, runs the
validation in a second such hop. `HopRoute` keeps FastAPI's handler for everything else (the
dependencies, the parameters and their errors, the response model, the exception handlers) and
gives it the endpoint as a coroutine function that hands the call to `in_thread`: one hop, under
the same limiter's token, in the caller's copied context, its exception raised in the caller
(ADR 0077). The handler then validates an answer on the loop, as for an `async def` endpoint.

The route's declaration (its `endpoint`, its parameters) is FastAPI's as before, so the OpenAPI
document is the same. An `async def` endpoint, a generator (a stream) or any other callable keeps
FastAPI's own way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import replace
from functools import partial
from typing import Any, TypeGuard

import fastapi.routing
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from nm_workflow.interface.http.thread_hop import in_thread

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class HopRoute(APIRoute):
    """An `APIRoute` whose plain `def` endpoint FastAPI's handler awaits through `in_thread`."""

    def get_route_handler(self) -> Handler:
        declared = declaration(self)
        endpoint = declared.dependant.call
        if _plain_function(endpoint):
            # The handler reads the call from the dependant; the route's `endpoint` stays the function.
            declared.dependant = replace(declared.dependant, call=hopping(endpoint))
        return super().get_route_handler()


_INCLUDED: ContextVar[Any] | None = getattr(fastapi.routing, "_effective_route_context_var", None)


def declaration(route: APIRoute) -> Any:
    """What FastAPI builds `route`'s handler from as it asks `get_route_handler`: the route itself,
    or, for a route of a router added with `include_router`, that inclusion's own declaration (its
    dependant holds the router's dependencies too). FastAPI from 0.16x builds an included route's
    handler under a context variable naming it, "so that integrations may wrap `dependant.call`";
    built from the route's own dependant instead, the router's dependencies were dropped and the
    hop skipped. Older FastAPI copies an included route, whose own dependant is then the one."""
    context = _INCLUDED.get() if _INCLUDED is not None else None
    return context if context is not None and context.original_route is route else route


def hopping(endpoint: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """`endpoint` as a coroutine function running it in a worker thread (`in_thread`)."""

    async def hop(**values: Any) -> Any:  # FastAPI passes the solved values by name
        return await in_thread(partial(endpoint, **values))

    # Named as the endpoint, module included: FastAPI names the call in its errors and in its
    # telemetry's spans (`code.function.name`: module and qualified name). The file and line in its
    # errors stay the hop's: FastAPI reads them from the code object.
    hop.__module__, hop.__name__ = endpoint.__module__, endpoint.__name__
    hop.__qualname__ = endpoint.__qualname__
    return hop


def _plain_function(call: Callable[..., Any] | None) -> TypeGuard[Callable[..., Any]]:
    kinds = (inspect.iscoroutinefunction, inspect.isgeneratorfunction, inspect.isasyncgenfunction)
    return inspect.isfunction(call) and not any(kind(call) for kind in kinds)
