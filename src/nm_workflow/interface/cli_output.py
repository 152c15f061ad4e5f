"""Tables of the `nm-workflow` command that stay readable wherever they go.

On a terminal: a table whose cells wrap rather than cut a value short. Piped
or redirected: tab-separated lines, a header first, every value whole (for
`cut`, `awk`, `grep`). With `--json`: one JSON array of objects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

Cell = str | int | bool | list[str] | None
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON array of objects instead of a table.")]


def show_table(columns: Sequence[str], rows: Sequence[Sequence[Cell]], *, as_json: bool) -> None:
    """Print `rows` under `columns` as a table, tab-separated lines or JSON (see the module)."""
    console = Console()
    if as_json:
        typer.echo(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], ensure_ascii=False))
    elif console.is_terminal:
        table = Table(*columns)
        for column in table.columns:
            column.overflow = "fold"
        for row in rows:
            table.add_row(*(_text(cell) for cell in row))
        console.print(table)
    else:
        for line in (columns, *rows):
            typer.echo("\t".join(_text(cell).replace("\t", " ").replace("\n", " ") for cell in line))


def _text(cell: Cell) -> str:
    """A cell as text: nothing for None, "yes"/"" for a flag, a list comma-separated."""
    if cell is None or cell is False:
        return ""
    if cell is True:
        return "yes"
    return ",".join(cell) if isinstance(cell, list) else str(cell)
