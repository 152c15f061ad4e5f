"""A command's answer, encoded by its model's serializer, is byte for byte what JSONResponse wrote."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi.responses import JSONResponse

from nm_workflow.application.command_context import CommandResult
from nm_workflow.interface.http.responses import command_response
from nm_workflow.interface.http.schemas_out import _ITEM_EXAMPLE, ItemOut


def _item(**changes: Any) -> dict[str, Any]:
    return {**_ITEM_EXAMPLE, **changes}


def test_an_answer_is_the_bytes_jsonresponse_wrote_for_the_model_dump() -> None:
    # Non-ASCII, a line separator, a control character, quotes, a backslash and a slash.
    view = _item(theme='Frühjahrs­kampagne \u2028 \x1f "quoted" \\ / 🚀', campaign=None)
    result = CommandResult(UUID(view["id"]), 4, False, False, 17, view)
    answer = command_response(result, ItemOut, "/items")
    before = JSONResponse(ItemOut.model_validate(view).model_dump(mode="json"))
    assert answer.body == before.body
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-length"] == str(len(before.body))
    assert json.loads(bytes(answer.body))["theme"] == view["theme"]


def test_a_new_aggregate_is_201_with_its_location_and_a_replay_says_so() -> None:
    view = _item()
    created = command_response(CommandResult(UUID(view["id"]), 1, True, False, 3, view), ItemOut, "/items")
    assert created.status_code == 201
    assert created.headers["location"] == f"/items/{view['id']}"
    replayed = command_response(CommandResult(UUID(view["id"]), 4, False, True, 9, view), ItemOut, "/items")
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.headers["etag"] == '"4"'
    assert replayed.headers["log-position"] == "9"
