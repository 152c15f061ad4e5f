"""The quarterly report as CSV: UTF-8 with a byte-order mark, so that Excel reads Chinese text."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from nm_workflow.application.figures import NAMES

BOM = "\ufeff"
COLUMNS: tuple[str, ...] = ("quarter", "department", "platform", *NAMES)


def report_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One line per row, columns in the order of `COLUMNS`; NULL is an empty field."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in COLUMNS])
    return out.getvalue()
