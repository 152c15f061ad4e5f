"""`nm-workflow audit ...`: what auditors run against the log (docs/audit.md).

Each concern keeps its commands in a module of its own and registers them on `app` here.
"""

from __future__ import annotations

import typer

from nm_workflow.interface import cli_replay

app = typer.Typer(help="Audit the event log: replay, verify, checkpoint, export.", no_args_is_help=True)
app.command("replay")(cli_replay.replay)
