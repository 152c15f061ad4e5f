"""`nm-workflow audit export`: the log with its chain links, for offline verification (docs/audit.md)."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from nm_workflow.application.audit_export import AuditExport, ExportFilter
from nm_workflow.interface.cli_errors import EXIT_USAGE, cannot_write, fail, time_option
from nm_workflow.interface.cli_settings import opened_store
from nm_workflow.interface.export_formats import ExportFormat, lines


def _moment(text: str | None, option: str) -> datetime | None:
    return None if text is None else time_option(text, option)


def _aggregate(text: str | None) -> UUID | None:
    try:
        return None if text is None else UUID(text)
    except ValueError:
        fail(f"--aggregate {text!r} is not an aggregate id (a UUID).", EXIT_USAGE)


def export(
    form: Annotated[ExportFormat, typer.Option("--format", help="jsonl (JSON Lines) or csv.")],
    aggregate: Annotated[str | None, typer.Option(help="Only this aggregate's events (its id).")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Only events recorded at or after this time.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Only events recorded before this time.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Every stored event with its chain link: what docs/audit/verify_export.py checks offline.

    Times are ISO 8601 with a zone (2026-03-01T00:00:00Z); `--from` is inclusive, `--to` exclusive.
    """
    wanted = ExportFilter(_aggregate(aggregate), _moment(start, "--from"), _moment(end, "--to"))
    if wanted.start and wanted.end and wanted.start >= wanted.end:
        fail("--from must be before --to.", EXIT_USAGE)
    with opened_store(existing=True) as store:
        try:
            sink = output.open("w", encoding="utf-8", newline="") if output else nullcontext(sys.stdout)
            with sink as text:
                text.writelines(lines(AuditExport(store).records(wanted), form))
        except OSError as error:
            cannot_write(output, error)
