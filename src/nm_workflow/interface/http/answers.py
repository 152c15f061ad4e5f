"""How the routes of one kind of aggregate answer: commands, the aggregate, its history."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from nm_workflow.application.commands import CommandResult
from nm_workflow.interface.http.responses import command_response
from nm_workflow.interface.http.routes_items import COMMAND, READ
from nm_workflow.interface.http.schemas_out import EventOut


class Answers:
    """The answers of `/<collection>` routes, whose body is `model`."""

    def __init__(self, model: type[BaseModel], collection: str, noun: str) -> None:
        self.model, self.collection = model, collection
        self.headers = {"ETag": {"description": f"The {noun}'s version", "schema": {"type": "string"}}}

    def command(self, summary: str, status: int = 200) -> dict[str, Any]:
        """Route options of a command answering with the aggregate."""
        ok = {"description": summary, "headers": self.headers, "model": self.model}
        return {"response_model": self.model, "status_code": status, "responses": {status: ok, **COMMAND}}

    def read(self) -> dict[str, Any]:
        """Route options of a read answering with the aggregate."""
        return {"response_model": self.model, "responses": {200: {"headers": self.headers}, **READ}}

    def result(self, result: CommandResult) -> JSONResponse:
        return command_response(result, self.model, self.collection)

    def view(self, view: dict[str, Any]) -> JSONResponse:
        body = self.model.model_validate(view).model_dump(mode="json")
        return JSONResponse(body, headers={"ETag": f'"{body["version"]}"'})


HISTORY: dict[str, Any] = {"response_model": list[EventOut], "responses": READ}


def history_response(events: list[dict[str, Any]]) -> JSONResponse:
    """Every event of an aggregate, with the ETag of the last."""
    body = [EventOut.model_validate(e).model_dump(mode="json") for e in events]
    return JSONResponse(body, headers={"ETag": f'"{body[-1]["version"]}"'})
