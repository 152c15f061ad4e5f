"""The HTTP answer to a command, the same for every aggregate."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from nm_workflow.application.commands import CommandResult


class EncodedJSON(JSONResponse):
    """A JSON response whose body the model's own serializer encoded (bytes), straight from the
    model: no intermediate dict of JSON values, no second encoder (docs/performance-history.md,
    "The command path's CPU (this round)")."""

    def render(self, content: Any) -> bytes:
        if not isinstance(content, bytes):
            raise TypeError("EncodedJSON takes the encoded body")
        return content


def command_response(result: CommandResult, model: type[BaseModel], collection: str) -> JSONResponse:
    """201 with Location for a new aggregate, else 200; ETag, Log-Position, Idempotent-Replayed."""
    headers = {"ETag": f'"{result.version}"', "Log-Position": str(result.position)}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if result.created:
        headers["Location"] = f"{collection}/{result.aggregate_id}"
    body = model.model_validate(result.view).model_dump_json().encode()
    return EncodedJSON(body, status_code=201 if result.created else 200, headers=headers)
