"""`nm-workflow snapshots note-times`: note the times of snapshots an earlier release stored (ADR 0044)."""

from __future__ import annotations

import typer

from nm_workflow.application.snapshot_backfill import note_missing_times
from nm_workflow.interface.cli_settings import opened_store

app = typer.Typer(help="Snapshots of long histories (docs/adr/0029, 0044).", no_args_is_help=True)


@app.command("note-times")
def note_times() -> None:
    """Note the time of every stored snapshot's version that has none yet, so that `as_of` reads
    of earlier times start from it (once after upgrading; safe while the service runs, and to run
    again). Exit 3 when the store is unreachable or, on SQLite, has no database file yet."""
    with opened_store(existing=True) as store:
        noted = note_missing_times(store)
    typer.echo(f"Noted the times of {noted} snapshot(s).")
