"""`nm-workflow demo`: fill an empty store with a realistic quarter, and print a key per role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nm_workflow.application.demo import DemoQuarter
from nm_workflow.application.store import EventStore
from nm_workflow.domain.periods import previous_quarter
from nm_workflow.domain.text import trimmed
from nm_workflow.interface.cli_errors import EXIT_FAILED, fail, reported
from nm_workflow.interface.cli_settings import load_settings

console = Console()


def demo(
    items: Annotated[int, typer.Option(min=1, max=100_000, help="Content items to create.")] = 120,
    quarter: Annotated[
        str | None, typer.Option(help="The quarter, e.g. 2026Q3 (default: the last complete one).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same quarter.")] = 7,
    force: Annotated[bool, typer.Option(help="Add to a store that already holds data.")] = False,
) -> None:
    """Fill an empty store with a demo quarter through the service's own commands."""
    settings = load_settings()
    now = datetime.now(UTC)
    with reported(settings):
        store = EventStore(settings)
        try:
            label = trimmed(quarter or previous_quarter(now, DemoQuarter.zone_of(settings))).upper()
            demo = DemoQuarter(store, settings, label, seed, now)  # a bad --quarter is exit 2 first
            held = store.head()
            if held and not force:
                fail(
                    f"The store already holds {held} events; the demo fills an empty store "
                    "(--force adds to it).",
                    EXIT_FAILED,
                )
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console) as progress:
                task = progress.add_task(f"demo quarter {label}", total=items)
                result = demo.run(
                    items, lambda done, total: progress.update(task, completed=done, total=total)
                )
        finally:
            store.close()
    # Plain lines, never wrapped or cut: the keys are copied from here.
    typer.echo("One API key per role (shown once; `nm-workflow keys list` lists them):")
    for role, key in result.keys.items():
        typer.echo(f"  {role:<17} {key}")
    typer.echo(
        f"quarter: {result.quarter}  items: {result.items}  signed-off evaluation: {result.evaluation_id}"
    )
    typer.echo(
        f"Next: `nm-workflow serve`, then GET /reports/quarterly?quarter={result.quarter} with the "
        f"management key, or `nm-workflow reports reproduce {result.evaluation_id}`."
    )
