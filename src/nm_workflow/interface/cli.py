"""The `nm-workflow` command: serve the API, manage API keys, run projections."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Column, Table

from nm_workflow.application.keys import KeyService
from nm_workflow.application.store import EventStore
from nm_workflow.domain.errors import WorkflowError
from nm_workflow.domain.roles import Role
from nm_workflow.interface import cli_projections, serving
from nm_workflow.interface.cli_settings import load_settings

app = typer.Typer(help="nm-workflow: the new-media operations workflow service.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys (shown once, stored only as hashes).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(cli_projections.app, name="projections")
console = Console()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    projections: Annotated[
        bool, typer.Option(help="Run the projections inside the API processes (else: `projections run`).")
    ] = True,
) -> None:
    """Serve the HTTP API (SQLite under ./var unless NM_DATABASE_URL is set)."""
    if not projections:
        # Read by Settings in each worker process, which uvicorn starts afresh.
        os.environ["NM_EMBEDDED_PROJECTIONS"] = "false"
    settings = load_settings()
    where = "PostgreSQL" if settings.uses_postgres else f"SQLite at {settings.sqlite_path}"
    console.print(f"nm-workflow on http://{host}:{port} ({where}); API docs at /docs")
    serving.serve("nm_workflow.interface.http.app:create_app", host=host, port=port, workers=workers)


@contextmanager
def _keys() -> Iterator[KeyService]:
    try:
        store = EventStore(load_settings())
    except WorkflowError as error:
        raise typer.BadParameter(error.detail) from None
    try:
        yield KeyService(store)
    finally:
        store.close()


@keys_app.command("create")
def create_key(
    actor: Annotated[str, typer.Option(help="Actor id the key acts as, e.g. an employee id.")],
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several.")],
    department: Annotated[str, typer.Option(help="The actor's department.")],
) -> None:
    """Create a key and print it once."""
    with _keys() as keys:
        token = keys.create(actor, role, department, issued_by=f"cli:{_operator()}")
    typer.echo(token)


@keys_app.command("list")
def list_keys() -> None:
    """List keys (never their secrets)."""
    with _keys() as keys:
        infos = keys.list()
    table = Table("actor", "roles", "department", "issued at", "revoked")
    table.columns.insert(0, Column("key id", no_wrap=True))
    for info in infos:
        table.add_row(
            info.key_id.hex,
            info.actor_id,
            ",".join(info.roles),
            info.department,
            info.issued_at.isoformat(timespec="seconds"),
            "yes" if info.revoked else "",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key id shown by `keys list`.")]) -> None:
    """Revoke a key: it stops working at once."""
    try:
        parsed = UUID(hex=key_id)
    except ValueError:
        raise typer.BadParameter(f"{key_id!r} is not a key id.") from None
    with _keys() as keys:
        try:
            revoked = keys.revoke(parsed, revoked_by=f"cli:{_operator()}")
        except WorkflowError as error:
            raise typer.BadParameter(error.detail) from None
    typer.echo(f"revoked {parsed.hex}" if revoked else f"{parsed.hex} was already revoked")


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def main() -> None:
    app()
