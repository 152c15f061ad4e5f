"""`nm-workflow projections ...`: run, inspect and rebuild the read side's tables."""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Annotated

import typer
from prometheus_client import start_http_server
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nm_workflow.domain.timing import utc_text
from nm_workflow.interface.cli_errors import EXIT_UNAVAILABLE, EXIT_USAGE, fail, reported
from nm_workflow.interface.cli_output import JsonOption, show_table
from nm_workflow.interface.cli_settings import existing_database, load_settings
from nm_workflow.interface.projection_worker import exit_with_parent, heartbeat
from nm_workflow.interface.serving import authority
from projections import NAMES, ProjectionSupervisor, ReadModel, rebuild

app = typer.Typer(
    help=f"Projections: SQL tables built from the event log ({', '.join(NAMES)}).",
    no_args_is_help=True,
)
console = Console()


def _known(names: Sequence[str]) -> None:
    """The same refusal for `run` and `rebuild`: a usage error (exit 2) naming the known ones."""
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        choices = ", ".join(NAMES)
        fail(f"{', '.join(map(repr, unknown))} is not a projection; choose from {choices}.", EXIT_USAGE)


@app.command("run")
def run_projections(
    names: Annotated[
        list[str] | None, typer.Argument(help=f"Projections to run (default: all): {', '.join(NAMES)}.")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve the projections' Prometheus metrics at :PORT/metrics."),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Address the metrics are served on.")] = "127.0.0.1",
    parent_pid: Annotated[
        int | None, typer.Option(hidden=True, help="Stop when this process is gone (set by `serve`).")
    ] = None,
    heartbeat_fd: Annotated[
        int | None,
        typer.Option(hidden=True, help="Touch the file of this descriptor at each pass (set by `serve`)."),
    ] = None,
) -> None:
    """Run projections in this process until SIGINT or SIGTERM (a batch in flight is finished)."""
    _known(names or [])
    settings = load_settings()
    if metrics_port is not None:
        try:  # lag and apply rate per projection, which no API process has when they run here
            start_http_server(metrics_port, addr=metrics_host)
        except OSError as error:
            where = authority(metrics_host, metrics_port)
            fail(f"Cannot serve metrics on {where}: {error.strerror}.", EXIT_UNAVAILABLE)
    stop = threading.Event()

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    running = f"Running projections: {', '.join(names or NAMES)}."
    if parent_pid is None:
        running += " Stop with Ctrl-C."
    else:  # started by `serve --projections worker`: never outlive it; serve says how to stop
        exit_with_parent(parent_pid, stop)
    console.print(running, soft_wrap=True)  # one line, however wide the terminal (a log file's is 80)
    beat = (lambda: None) if heartbeat_fd is None else heartbeat(heartbeat_fd)
    with reported(settings):
        supervisor = ProjectionSupervisor(settings, names, beat=beat)
        supervisor.start()
        try:
            stop.wait()
        finally:
            supervisor.stop()
    console.print("Stopped.")


@app.command("status")
def show_status(as_json: JsonOption = False) -> None:
    """Each projection's position, the log head, the lag, the process working it, and whether it is failing.

    A failing projection cannot apply the events after its position: `failing since` is the
    first failed attempt in a row (UTC), `last error` the reason; it is retried with backoff.
    """
    settings = existing_database(load_settings())
    with reported(settings):
        read_model = ReadModel(settings)
        try:
            rows = read_model.status()
        finally:
            read_model.close()
    columns = ("projection", "position", "head", "lag", "owner", "tables", "failing since", "attempts",
               "last error")  # fmt: skip
    show_table(
        columns,
        [
            (row.name, row.position, row.head, row.lag, row.owner, list(row.tables),
             utc_text(row.failing_since) if row.failing_since else None, row.attempts, row.last_error)
            for row in rows
        ],
        as_json=as_json,
    )  # fmt: skip


@app.command("rebuild")
def rebuild_projection(
    name: Annotated[str, typer.Argument(help=f"The projection to rebuild: {', '.join(NAMES)}.")],
) -> None:
    """Rebuild a projection's tables from the whole log; safe while the API keeps serving."""
    _known([name])
    settings = load_settings()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with reported(settings):
        read_model = ReadModel(settings)
        try:
            with Progress(*columns, console=console) as progress:
                task = progress.add_task(f"rebuilding {name}", total=None)
                position = rebuild(
                    read_model, name, lambda done, total: progress.update(task, completed=done, total=total)
                )
        finally:
            read_model.close()
    console.print(f"{name} rebuilt up to log position {position}.")


if __name__ == "__main__":
    app()
