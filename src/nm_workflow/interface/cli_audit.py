"""`nm-workflow audit ...`: what auditors run against the log (docs/audit.md).

Each concern keeps its commands in a module of its own and registers them on `app` here.
"""

from __future__ import annotations

import typer

from nm_workflow.interface import cli_audit_chain, cli_audit_export, cli_audit_keys, cli_replay

app = typer.Typer(help="Audit the event log: replay, verify, checkpoint, export.", no_args_is_help=True)
app.command("keygen")(cli_audit_keys.keygen)
app.command("verify")(cli_audit_chain.verify)
app.command("checkpoint")(cli_audit_chain.checkpoint)
app.command("export")(cli_audit_export.export)
app.command("replay")(cli_replay.replay)
