"""The export's two formats, shared by `nm-workflow audit export` and `GET /audit/export` (docs/audit.md).

Both carry the same fields per record: `state` as base64 of the stored bytes, hashes as lowercase
hex, empty (CSV) or null (JSON) for an event without a chain link. JSON Lines: one object per line.
CSV: RFC 4180, a header row, UTF-8 without BOM (every value is ASCII).
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

from nm_workflow.application.audit_export import ExportRecord
from nm_workflow.domain.timing import utc_text

FIELDS = (
    "position", "leaf_index", "aggregate_id", "version", "topic", "recorded_at", "state",
    "record_hash", "previous_chain_hash", "chain_hash",
)  # fmt: skip


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"

    @property
    def media_type(self) -> str:
        return "application/x-ndjson" if self is ExportFormat.JSONL else "text/csv; charset=utf-8"


def as_fields(record: ExportRecord) -> dict[str, Any]:
    """A record's fields in the order of FIELDS, as JSON values."""
    return {
        "position": record.position,
        "leaf_index": record.leaf_index,
        "aggregate_id": str(record.aggregate_id),
        "version": record.version,
        "topic": record.topic,
        "recorded_at": utc_text(record.recorded_at, "microseconds"),
        "state": base64.b64encode(record.state).decode("ascii"),
        "record_hash": _hex(record.record_hash),
        "previous_chain_hash": _hex(record.previous_chain_hash),
        "chain_hash": _hex(record.chain_hash),
    }


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def lines(records: Iterable[ExportRecord], form: ExportFormat) -> Iterator[str]:
    """The export as text, a line (or the CSV header) at a time."""
    if form is ExportFormat.JSONL:
        for record in records:
            yield json.dumps(as_fields(record), separators=(",", ":"), ensure_ascii=True) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for record in records:
        writer.writerow(["" if value is None else value for value in as_fields(record).values()])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()  # the header alone, for an empty export
