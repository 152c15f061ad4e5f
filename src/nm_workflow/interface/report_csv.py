"""The quarterly report as CSV: UTF-8 with a byte-order mark, so that Excel reads Chinese text.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return
before one) as a formula: a department named `=HYPERLINK(...)` would run when the file is
opened. Such a text cell is written with a leading `'`, which Excel shows as text and hides
(OWASP, "CSV Injection"); the figures are numbers and are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from nm_workflow.application.figures import NAMES

BOM = "\ufeff"
TEXT_COLUMNS: tuple[str, ...] = ("quarter", "department", "platform")
COLUMNS: tuple[str, ...] = (*TEXT_COLUMNS, *NAMES)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def report_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One line per row, columns in the order of `COLUMNS`; NULL is an empty field."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [_text(row[c]) for c in TEXT_COLUMNS] + ["" if row.get(c) is None else row[c] for c in NAMES]
        )
    return out.getvalue()


def _text(value: str | None) -> str:
    if value is None:
        return ""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value
