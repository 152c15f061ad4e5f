"""How every command route answers: the aggregate's view, ETag, Log-Position, and Location when created."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from nm_workflow.application.commands import CommandResult


def command_response(result: CommandResult, model: type[BaseModel], collection: str) -> JSONResponse:
    """201 with `Location: <collection>/<id>` when the command created the aggregate, else 200."""
    headers = {"ETag": f'"{result.version}"', "Log-Position": str(result.position)}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if result.created:
        headers["Location"] = f"{collection}/{result.aggregate_id}"
    body = model.model_validate(result.view).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if result.created else 200, headers=headers)


def command_route(
    model: type[BaseModel], summary: str, status: int, headers: dict[str, Any], problems: dict[int | str, Any]
) -> dict[str, Any]:
    """The route decorator's arguments: the success response with its headers, and the problems."""
    ok = {"description": summary, "headers": headers, "model": model}
    return {"response_model": model, "status_code": status, "responses": {status: ok, **problems}}
