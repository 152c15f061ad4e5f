"""How the routes of one kind of aggregate answer: commands, the aggregate, its history.

Each option set declares exactly the headers the answer sends (tests/e2e/test_openapi_exactness.py)
and the roles that may call it (`callers`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from nm_workflow.application.commands import CommandResult
from nm_workflow.application.reads import HistoryPage
from nm_workflow.application.security import Command
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.responses import command_response
from nm_workflow.interface.http.schemas_out import EventOut, Problem

_PROBLEMS: dict[int, str] = {
    400: "Malformed JSON or header",
    401: "Missing or unknown API key",
    403: "Role, department or segregation of duties forbids it",
    404: "No such aggregate",
    409: "Not allowed in the aggregate's state, or a concurrent write won",
    412: "If-Match names a stale version",
    413: "Body too large",
    415: "Body not sent as JSON",
    422: "Schema violation, rule violation or reused Idempotency-Key",
    503: "Event store unreachable; retry after Retry-After seconds",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": Problem, "description": _PROBLEMS[c]} for c in codes}


COMMAND = problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 503)
READ = problem_responses(400, 401, 403, 404, 422, 503)
NEXT = {
    "Link": {
        "description": 'While more events follow: `</items/{id}/history?after=100&limit=100>; rel="next"`',
        "schema": {"type": "string"},
    }
}
WRITTEN = {
    "Log-Position": {"description": "Event-log position this command wrote", "schema": {"type": "integer"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored first result of the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


class Answers:
    """The answers of `/<collection>` routes, whose body is `model`."""

    def __init__(self, model: type[BaseModel], collection: str, noun: str) -> None:
        self.model, self.collection, self.noun = model, collection, noun
        version = {"description": f'The {noun}\'s version, e.g. "4"', "schema": {"type": "string"}}
        self.headers: dict[str, Any] = {"ETag": version}

    def command(
        self, summary: str, *commands: Command, status: int = 200, known: str | None = None
    ) -> dict[str, Any]:
        """Route options of a command (one of `commands`) answering with the aggregate.

        `status` 201: a new aggregate, with its Location. `known`: the summary of the 200 a
        command creating one answers when it finds the aggregate there already (the answer to
        any repeat, marked Idempotent-Replayed: the 201 is then never a replay).
        """
        written = self.headers | WRITTEN
        responses: dict[int | str, dict[str, Any]] = {}
        if known is not None:
            responses[200] = {"description": known, "headers": written, "model": self.model}
            written = self.headers | {"Log-Position": WRITTEN["Log-Position"]}
        if status == 201:
            where = {"description": f"The new {self.noun}'s URL", "schema": {"type": "string"}}
            written = written | {"Location": where}
        responses[status] = {"description": summary, "headers": written, "model": self.model}
        return {
            "response_model": self.model,
            "status_code": status,
            "responses": responses | COMMAND,
            **callers(*commands),
        }

    def read(self, command: Command = Command.READ) -> dict[str, Any]:
        """Route options of a read (authorized as `command`) answering with the aggregate."""
        responses = {200: {"headers": self.headers}, **READ}
        return {"response_model": self.model, "responses": responses, **callers(command)}

    def history(self, command: Command = Command.READ) -> dict[str, Any]:
        """Route options of a page of the aggregate's history (authorized as `command`), with the
        aggregate's ETag and, while more events follow, a `next` link."""
        responses = {200: {"headers": self.headers | NEXT}, **READ}
        return {"response_model": list[EventOut], "responses": responses, **callers(command)}

    def result(self, result: CommandResult) -> JSONResponse:
        return command_response(result, self.model, self.collection)

    def view(self, view: dict[str, Any]) -> JSONResponse:
        body = self.model.model_validate(view).model_dump(mode="json")
        return JSONResponse(body, headers={"ETag": f'"{body["version"]}"'})


def history_response(request: Request, page: HistoryPage) -> JSONResponse:
    """A page of an aggregate's history, with the aggregate's ETag and the link to the next page.

    The body stays a plain list of events (what the unpaged history answered); the cursor
    travels in an RFC 8288 `Link` header, as GitHub's API pages its lists.
    """
    body = [EventOut.model_validate(e).model_dump(mode="json") for e in page.events]
    headers = {"ETag": f'"{page.version}"'}
    if page.next_after is not None:
        following = request.url.include_query_params(after=page.next_after)
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return JSONResponse(body, headers=headers)
