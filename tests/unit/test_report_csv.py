"""The quarterly report's CSV: text that a spreadsheet would run as a formula is kept as text."""

from __future__ import annotations

import csv
import io

from nm_workflow.interface.report_csv import BOM, COLUMNS, report_csv


def rows_of(text: str) -> list[dict[str, str]]:
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text.removeprefix(BOM))))


def test_a_department_that_looks_like_a_formula_is_written_as_text_and_figures_as_numbers() -> None:
    departments = ['=HYPERLINK("http://x","y")', "+1", "-sales", "@SUM(A1)", "\t=1", "\r=1", "市场部", "*"]
    figure = COLUMNS[3]
    rows = [{"quarter": "2026Q3", "department": d, "platform": "wechat", figure: -2.5} for d in departments]

    written = rows_of(report_csv(rows))

    assert [r["department"] for r in written] == [
        "'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'-sales", "'@SUM(A1)", "'\t=1", "'\r=1", "市场部", "*",
    ]  # fmt: skip
    assert {r[figure] for r in written} == {"-2.5"}  # a negative figure stays a number
    assert {r[COLUMNS[4]] for r in written} == {""}  # a figure with nothing to compute it from
