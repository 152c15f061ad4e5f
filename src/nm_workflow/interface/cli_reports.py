"""`nm-workflow reports ...`: the quarterly report (Ch. 5.5) and the reproduction of a sign-off (Ch. 6.2)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Column, Table

from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.security import Actor
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from nm_workflow.interface.cli_errors import EXIT_FAILED, cannot_write, reported
from nm_workflow.interface.cli_settings import existing_database, load_settings
from nm_workflow.interface.http.schemas import platform_name
from nm_workflow.interface.report_csv import COLUMNS, report_csv
from projections import ReadModel
from projections.quarterly_evaluation import read_quarter

app = typer.Typer(
    help="Reports for management: the quarterly report, reproducing a sign-off.", no_args_is_help=True
)
console = Console()


@app.command("quarterly")
def quarterly(
    quarter: Annotated[str, typer.Argument(help="The quarter, e.g. 2026Q3 (company time zone).")],
    department: Annotated[str | None, typer.Option(help="Only this department's rows.")] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform's rows.")] = None,
    csv: Annotated[
        str | None,  # not a Path: Path("./-") == Path("-"), and ./- names a file
        typer.Option(help="Write the rows to this CSV file (UTF-8 with BOM); '-' for standard output."),
    ] = None,
) -> None:
    """The quarterly_evaluation rows of a quarter, as the projection has them."""
    settings = existing_database(load_settings())
    with reported(settings):
        read_model = ReadModel(settings)
        try:
            rows = read_quarter(read_model, quarter, department, platform_name(platform))
            position, head = read_model.position("quarterly_evaluation"), read_model.head()
        finally:
            read_model.close()
    # With the CSV on standard output, the lines about it go to standard error: the output stays CSV.
    notes = Console(stderr=True) if csv == "-" else console
    if csv == "-":
        sys.stdout.write(report_csv(rows))
        sys.stdout.flush()
    elif csv is not None:
        try:
            Path(csv).write_text(report_csv(rows), encoding="utf-8", newline="")
        except OSError as error:
            cannot_write(Path(csv), error)
        console.print(f"{len(rows)} rows written to {csv}.")
    else:
        _print_rows(rows)
    notes.print(f"As of log position {position} (head {head}).")
    if position < head:
        notes.print("[yellow]The projection is behind the log; run the projections to catch up.[/yellow]")


@app.command("reproduce")
def reproduce(
    evaluation_id: Annotated[str, typer.Argument(help="The id of a signed-off evaluation.")],
) -> None:
    """Recompute a sign-off's figures from the log up to its position; exit 1 on any difference,
    2 for an unknown or unsigned evaluation, 3 when the store is unreachable."""
    try:
        parsed = UUID(evaluation_id)
    except ValueError:
        raise typer.BadParameter(f"{evaluation_id!r} is not an evaluation id.") from None
    settings = existing_database(load_settings())
    actor = Actor("cli", frozenset({Role.AUDITOR}), "cli")  # reads only: whoever runs it may
    with reported(settings):
        store = EventStore(settings)
        try:
            evaluations = Evaluations(store, settings)
            reproduction = evaluations.reproduce(actor, parsed)
            drift = evaluations.drift(actor, parsed)
        finally:
            store.close()
    figures = len(reproduction.signed) * (len(COLUMNS) - 3)
    console.print(f"Signed off at log position {reproduction.position}: {len(reproduction.signed)} rows, "
                  f"{figures} figures.")  # fmt: skip
    if reproduction.differences:
        _print_differences("Recomputed from the log at that position: DIFFERENT", reproduction.differences)
        raise typer.Exit(EXIT_FAILED)
    console.print(
        "[green]Reproduced: the log up to that position gives exactly the signed-off figures.[/green]"
    )
    if drift["differences"]:
        title = f"For information: the log now (position {drift['position']}) gives other values"
        _print_differences(title, drift["differences"])


def _print_rows(rows: list[dict[str, Any]]) -> None:
    """Figures down, rows across: as many rows side by side as the terminal holds."""
    across = max(1, (console.width - 38) // 14)
    for start in range(0, max(len(rows), 1), across):
        shown = rows[start : start + across]
        table = Table(Column("figure", no_wrap=True), title="quarterly_evaluation")
        for r in shown:
            table.add_column(f"{r['department']} / {r['platform']}", no_wrap=True)
        for name in COLUMNS[3:]:
            table.add_row(name, *(_shown(r[name]) for r in shown))
        console.print(table)


def _print_differences(title: str, differences: list[dict[str, Any]]) -> None:
    table = Table("department", "platform", "figure", "signed", "now", "delta", title=title)
    for d in differences:
        table.add_row(d["department"], d["platform"], d["figure"], _shown(d["signed"]), _shown(d["other"]),
                      _shown(d["delta"]))  # fmt: skip
    console.print(table)


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
