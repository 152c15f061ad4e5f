"""The compact encoder writes `json.dumps`'s text with the accelerator and without it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nm_workflow.application import json_text

VALUES: list[Any] = [
    {"b": 1, "a": [1.5, None, True, "é\u2028\x00"], "c": {"z": float("inf"), "y": -0.0}},
    ["x", 10**30, {"k": "v"}],
    "text",
]


def _named(value: Any) -> Any:
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(type(value).__name__)


@pytest.mark.parametrize("accelerated", [True, False], ids=["C encoder", "without it"])
@pytest.mark.parametrize("sort_keys", [True, False])
@pytest.mark.parametrize("ensure_ascii", [False, True], ids=["as UTF-8", "ASCII"])
def test_the_text_is_json_dumps_s(
    monkeypatch: pytest.MonkeyPatch, accelerated: bool, sort_keys: bool, ensure_ascii: bool
) -> None:
    if not accelerated:
        monkeypatch.setattr(json_text, "c_make_encoder", None)
    encode = json_text.compact_encoder(_named, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    for value in [*VALUES, {"s": {3, 1, 2}}]:
        encoder = json.JSONEncoder(default=_named, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
        encoder.item_separator, encoder.key_separator = ",", ":"
        expected = encoder.encode(value)
        assert encode(value) == expected
    with pytest.raises(TypeError):
        encode({"no": object()})
