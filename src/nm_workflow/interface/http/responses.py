"""The HTTP answer to a command, the same for every aggregate, and how its routes declare it."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from nm_workflow.application.commands import CommandResult
from nm_workflow.application.security import Command
from nm_workflow.interface.http.openapi import callers


def command_response(result: CommandResult, model: type[BaseModel], collection: str) -> JSONResponse:
    """201 with Location for a new aggregate, else 200; ETag, Log-Position, Idempotent-Replayed."""
    headers = {"ETag": f'"{result.version}"', "Log-Position": str(result.position)}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if result.created:
        headers["Location"] = f"{collection}/{result.aggregate_id}"
    body = model.model_validate(result.view).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if result.created else 200, headers=headers)


def etag_header(noun: str) -> dict[str, Any]:
    """The OpenAPI declaration of the `ETag` a read or command of `noun` (e.g. "item") sends."""
    return {"ETag": {"description": f'The {noun}\'s version, e.g. "4"', "schema": {"type": "string"}}}


def command_headers(noun: str, created: bool) -> dict[str, Any]:
    """The OpenAPI declaration of the headers `command_response` sends (Location when `created`)."""
    headers = etag_header(noun) | {
        "Log-Position": {
            "description": "Event-log position this command wrote",
            "schema": {"type": "integer"},
        },
        "Idempotent-Replayed": {
            "description": "`true` when this is the stored first result of the same Idempotency-Key",
            "schema": {"type": "string", "enum": ["true"]},
        },
    }
    if created:
        headers["Location"] = {"description": f"The new {noun}'s URL", "schema": {"type": "string"}}
    return headers


def command_route(
    model: type[BaseModel],
    noun: str,
    summary: str,
    problems: dict[int | str, Any],
    *commands: Command,
    status: int = 200,
) -> dict[str, Any]:
    """Route keyword arguments of a command answering with `model`: its headers, problems, callers."""
    ok = {"description": summary, "headers": command_headers(noun, status == 201), "model": model}
    return {
        "response_model": model,
        "status_code": status,
        "responses": {status: ok, **problems},
        **callers(*commands),
    }
