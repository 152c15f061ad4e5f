"""A row's JSON text is `json.dumps`'s with the projections' options, whatever the value: the
encoder made once (projections/sql.py, ADR 0067) writes the same characters as `json.dumps`
did, so that incremental and rebuilt rows stay byte-identical across the change."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.sql import JSONText, dumps, to_jsonable


class Colour(Enum):
    RED = "red"


def _reference(value: Any) -> str:
    return json.dumps(value, default=to_jsonable, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text() | st.uuids() | st.dates() | st.sampled_from(list(Colour))
    | st.datetimes(timezones=st.just(UTC)) | st.frozensets(st.integers(), max_size=4)
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(_VALUES)
def test_every_value_encodes_as_json_dumps_does(value: Any) -> None:
    assert dumps(value) == _reference(value)


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        'quote " and backslash \\ and NUL \x00',
        "é 中文 \u2028",
        1.0,
        -0.0,
        float("nan"),
        float("inf"),
        10**30,
        True,
        None,
        [],
        {},
        {"b": 1, "a": [datetime(2026, 11, 30, 12, tzinfo=timezone(timedelta(hours=8)))]},
        {"id": UUID(int=7), "day": date(2026, 11, 30), "set": {3, 1, 2}, "colour": Colour.RED},
    ],
)
def test_edge_values_encode_as_json_dumps_does(value: Any) -> None:
    assert dumps(value) == _reference(value)


def test_text_already_encoded_is_passed_as_it_is() -> None:
    assert dumps(JSONText('{"a":1}')) == '{"a":1}'


def test_a_value_json_lacks_still_fails() -> None:
    with pytest.raises(TypeError, match="object is not JSON serialisable"):
        dumps({"x": object()})
