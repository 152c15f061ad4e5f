"""`nm-workflow projections ...`: run, inspect and rebuild the read side's tables."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nm_workflow.domain.errors import WorkflowError
from nm_workflow.interface.cli_settings import load_settings
from projections import NAMES, ReadModel, rebuild, run_worker

app = typer.Typer(
    help=f"Projections: SQL tables built from the event log ({', '.join(NAMES)}).",
    no_args_is_help=True,
)
console = Console()


@app.command("run")
def run_projections(
    names: Annotated[
        list[str] | None, typer.Argument(help=f"Projections to run (default: all): {', '.join(NAMES)}.")
    ] = None,
) -> None:
    """Run projections in this process until SIGINT or SIGTERM (a batch in flight is finished)."""
    stop = threading.Event()

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    console.print(f"Running projections: {', '.join(names or NAMES)}. Stop with Ctrl-C.")
    try:
        run_worker(load_settings(), names, stop)
    except WorkflowError as error:
        _fail(error)
    console.print("Stopped.")


@app.command("status")
def show_status() -> None:
    """Each projection's position, the log head, the lag and the process working it."""
    read_model = _read_model()
    try:
        rows = read_model.status()
    except WorkflowError as error:
        _fail(error)
    finally:
        read_model.close()
    table = Table("projection", "position", "head", "lag", "owner", "tables")
    for row in rows:
        lag = f"[red]{row.lag}[/red]" if row.lag else "0"
        owner, tables = row.owner or "-", ", ".join(row.tables)
        table.add_row(row.name, str(row.position), str(row.head), lag, owner, tables)
    console.print(table)


@app.command("rebuild")
def rebuild_projection(
    name: Annotated[str, typer.Argument(help=f"The projection to rebuild: {', '.join(NAMES)}.")],
) -> None:
    """Rebuild a projection's tables from the whole log; safe while the API keeps serving."""
    if name not in NAMES:
        raise typer.BadParameter(f"{name!r} is not a projection; choose one of {', '.join(NAMES)}.")
    read_model = _read_model()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"rebuilding {name}", total=None)
            position = rebuild(
                read_model, name, lambda done, total: progress.update(task, completed=done, total=total)
            )
    except WorkflowError as error:
        _fail(error)
    finally:
        read_model.close()
    console.print(f"{name} rebuilt up to log position {position}.")


def _read_model() -> ReadModel:
    try:
        return ReadModel(load_settings())
    except WorkflowError as error:
        _fail(error)


def _fail(error: WorkflowError) -> NoReturn:
    console.print(f"[red]{error.detail}[/red]")
    raise typer.Exit(1)


if __name__ == "__main__":
    app()
