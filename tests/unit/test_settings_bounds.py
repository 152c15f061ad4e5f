"""docs/operators.md has one table of every NM_ variable, and its numeric bounds are the code's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from pydantic import ValidationError

from nm_workflow.application.settings import Settings

OPERATORS = Path(__file__).parents[2] / "docs" / "operators.md"
SYMBOLS = {  # each constraint, its symbol and the attribute holding its number
    annotated_types.Ge: ("≥", "ge"),
    annotated_types.Gt: (">", "gt"),
    annotated_types.Le: ("≤", "le"),
    annotated_types.Lt: ("<", "lt"),
}


def _documented() -> dict[str, list[str]]:
    rows = re.findall(r"^\| `(NM_[A-Z_]+)` \|(.*)\|$", OPERATORS.read_text(encoding="utf-8"), re.M)
    return {name: [cell.strip() for cell in cells.split(" | ")] for name, cells in rows}


def _bounds(metadata: list[Any]) -> str:
    parts = []
    for constraint in metadata:
        for kind, (symbol, attribute) in SYMBOLS.items():
            if isinstance(constraint, kind):
                parts.append(f"{symbol} {getattr(constraint, attribute)}")
    return ", ".join(parts)


def test_every_variable_is_in_the_one_table_with_the_bounds_the_code_enforces() -> None:
    documented = _documented()
    fields = {f"NM_{name.upper()}": info for name, info in Settings.model_fields.items()}
    assert set(documented) == set(fields)
    for variable, info in fields.items():
        default, bounds = documented[variable][0], documented[variable][1]
        if info.annotation in (int, float):
            assert bounds == _bounds(info.metadata), variable
            assert default == f"`{info.default}`", variable
        assert bounds, f"{variable} has no documented bounds"


@pytest.mark.parametrize("variable", [f"NM_{name.upper()}" for name, info in Settings.model_fields.items()
                                      if info.annotation in (int, float)])  # fmt: skip
def test_a_number_beyond_its_upper_bound_is_refused_at_start(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upper = _bounds(Settings.model_fields[variable[3:].lower()].metadata).split("≤ ")[-1]
    monkeypatch.setenv(variable, str(float(upper) + 1 if "." in upper else int(upper) + 1))
    with pytest.raises(ValidationError, match="less than or equal"):
        Settings()


def test_a_review_stage_of_a_hundred_million_hours_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NM_REVIEW_STAGE_HOURS", "100000000")
    with pytest.raises(ValidationError, match="less than or equal to 8760"):
        Settings()
