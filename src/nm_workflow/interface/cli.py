"""The `nm-workflow` command: serve the API, manage API keys, run projections."""

from __future__ import annotations

import enum
import errno
import getpass
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from nm_workflow.application.keys import KeyService
from nm_workflow.application.settings import PROJECTIONS_PLACES, ProjectionsPlace, Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from nm_workflow.domain.timing import utc_text
from nm_workflow.interface import (
    cli_audit,
    cli_demo,
    cli_policy,
    cli_projections,
    cli_reports,
    cli_snapshots,
    serving,
)
from nm_workflow.interface.cli_errors import (
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    fail,
    guarded_output,
    reported,
    say,
)
from nm_workflow.interface.cli_output import JsonOption, show_table
from nm_workflow.interface.cli_settings import load_settings, opened_store

app = typer.Typer(help="nm-workflow: the new-media operations workflow service.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys (shown once, stored only as hashes).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(cli_projections.app, name="projections")
app.add_typer(cli_reports.app, name="reports")
app.command("demo")(cli_demo.demo)
app.add_typer(cli_policy.app, name="policy")
app.add_typer(cli_audit.app, name="audit")
app.add_typer(cli_snapshots.app, name="snapshots")
console = Console()
Place = enum.Enum("Place", [(place, place) for place in PROJECTIONS_PLACES], type=str)  # type: ignore[misc]
"""The values of `serve --projections`: Settings.projections."""
PLACES: dict[str, ProjectionsPlace] = {place: place for place in PROJECTIONS_PLACES}


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"nm-workflow {version('nm-workflow')}")
        raise typer.Exit


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    """nm-workflow: the new-media operations workflow service."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    projections: Annotated[
        Place | None,
        typer.Option(
            help="Where the projections run: embedded (threads of each API process), worker (one process"
            " of their own, started and kept running by serve) or none (run `projections run` yourself)."
            " Default: NM_PROJECTIONS, else NM_EMBEDDED_PROJECTIONS, else worker on SQLite and embedded"
            " on PostgreSQL.",
            show_default=False,
        ),
    ] = None,
    no_projections: Annotated[
        bool, typer.Option("--no-projections", help="Older spelling of `--projections none`.")
    ] = False,
) -> None:
    """Serve the HTTP API (SQLite under ./var unless NM_DATABASE_URL is set)."""
    if not host.strip():  # else "Name or service not known": exit 3, as if the machine lacked it
        fail("--host must name an interface, e.g. 127.0.0.1 (this machine) or 0.0.0.0 (all).", EXIT_USAGE)
    place = _projections_option(projections, no_projections=no_projections)
    if place is not None:
        # The command line wins over the environment, its older spelling included (else read as
        # a contradiction below); what the workers are told is set once the settings chose.
        os.environ["NM_PROJECTIONS"] = place
        os.environ.pop("NM_EMBEDDED_PROJECTIONS", None)
    os.environ["NM_API_WORKERS"] = str(workers)  # the workers share the pool budget (ADR 0027)
    settings = load_settings()
    served = settings.served_projection_place
    if served == "worker":
        _stall_outlasts_a_pass(settings)
    # Said to every worker process, which would otherwise read "unset" as embedded (ADR 0076).
    os.environ["NM_PROJECTIONS"] = served
    os.environ.pop("NM_EMBEDDED_PROJECTIONS", None)
    # Checked here, so that a database or port that cannot be had is one line, not a worker's traceback.
    with reported(settings):
        EventStore(settings).close()
    # Here, not at the top: it loads the web framework, which no other command needs.
    from nm_workflow.interface.http.server import uvicorn_options

    with _port_claimed(host, port):
        shown = {"embedded": "", "worker": "; projections in a worker process", "none": "; projections off"}
        where = settings.database_location() + shown[served]
        # One line, however wide the terminal (a log file's is 80 columns).
        console.print(f"nm-workflow on http://{serving.authority(host, port)} ({where}); API docs at /docs",
                      soft_wrap=True)  # fmt: skip
        serving.serve(
            "nm_workflow.interface.http.app:create_app",
            host=host,
            port=port,
            workers=workers,
            projection_worker=settings.projection_worker_stall_seconds if served == "worker" else None,
            **uvicorn_options(),
        )


def _stall_outlasts_a_pass(settings: Settings) -> None:
    """Exit 2 unless the stall outlasts a healthy worker's longest wait: else it is killed as hung."""
    stall, gap = settings.projection_worker_stall_seconds, settings.projection_beat_gap
    if stall <= gap:
        fail(f"NM_PROJECTION_WORKER_STALL_SECONDS ({stall:g}) must be more than twice NM_DB_LOCK_TIMEOUT +"
             f" NM_PROJECTION_POLL_INTERVAL + NM_PROJECTION_GATHER_SECONDS ({gap:g} s), the longest a healthy"
             " projection worker waits between two passes.", EXIT_USAGE)  # fmt: skip


def _projections_option(projections: Place | None, *, no_projections: bool) -> ProjectionsPlace | None:
    """Where the command line says the projections run (None: it does not say); both spellings must agree."""
    place = None if projections is None else PLACES[projections.value]
    if no_projections and place not in (None, "none"):
        fail(f"--projections {place} contradicts --no-projections (its older spelling of none).", EXIT_USAGE)
    return place or ("none" if no_projections else None)


@contextmanager
def _port_claimed(host: str, port: int) -> Iterator[None]:
    """Fail now if `host:port` cannot be listened on (in use, not an address of this machine, or
    its port claimed by another `serve` still starting); else hold the claim until the block ends.

    A claim refused for another reason (Unix sockets not allowed to this process) is said and
    done without: only a second `serve` started in the same seconds would then go unrefused."""
    _check_port(host, port)
    claim = None
    try:
        claim = serving.claim_address(port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            fail(f"Cannot listen on {serving.authority(host, port)}: another nm-workflow serve is starting"
                 f" or serving on port {port}.", EXIT_UNAVAILABLE)  # fmt: skip
        console.print(f"Serving without the port's claim ({error.strerror or error}): a second serve on"
                      f" port {port} is refused only once this one's workers listen.")  # fmt: skip
    try:
        yield
    finally:
        if claim is not None:
            claim.close()


def _check_port(host: str, port: int) -> None:
    """Fail now if `host:port` cannot be listened on (in use, not an address of this machine)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        fail(f"Cannot listen on {serving.authority(host, port)}: {reason}.", EXIT_UNAVAILABLE)
    except UnicodeError:  # the IDNA codec's refusal: an empty label (`a..b`) or one over 63 characters
        fail(f"--host {host[:80]!r} is not a host name: a label is empty or longer than 63 characters.",
             EXIT_USAGE)  # fmt: skip


@contextmanager
def _keys(*, existing: bool = True) -> Iterator[KeyService]:
    """`existing`: only `keys create` may make the database (a key before the first `serve`)."""
    with opened_store(existing=existing) as store:
        yield KeyService(store)


@keys_app.command("create")
def create_key(
    actor: Annotated[str, typer.Option(help="Actor id the key acts as, e.g. an employee id.")],
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several.")],
    department: Annotated[str, typer.Option(help="The actor's department.")],
) -> None:
    """Create a key and print it once.

    Actor and department: 1 to 200 characters after trimming, one line, no control characters.
    """
    with _keys(existing=False) as keys:
        token = keys.create(actor, role, department, issued_by=f"cli:{_operator()}")
    typer.echo(token)


@keys_app.command("list")
def list_keys(as_json: JsonOption = False) -> None:
    """List keys (never their secrets); tab-separated when piped."""
    with _keys() as keys:
        infos = keys.list()
    rows = [
        (info.key_id.hex, info.actor_id, info.roles, info.department,
         utc_text(info.issued_at, "seconds"), info.revoked)
        for info in infos
    ]  # fmt: skip
    show_table(("key id", "actor", "roles", "department", "issued at", "revoked"), rows, as_json=as_json)


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key id shown by `keys list`.")]) -> None:
    """Revoke a key: it stops working at once."""
    try:
        parsed = UUID(hex=key_id)
    except ValueError:
        fail(f"{key_id!r} is not a key id (32 hexadecimal digits, as `keys list` shows).", EXIT_USAGE)
    with _keys() as keys:
        revoked = keys.revoke(parsed, revoked_by=f"cli:{_operator()}")
    typer.echo(f"revoked {parsed.hex}" if revoked else f"{parsed.hex} was already revoked")


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def main() -> None:
    """The console script: usage errors as one line too (exit 2), not a framed panel."""
    with guarded_output():
        try:
            status = typer.main.get_command(app).main(standalone_mode=False)
        except typer.TyperException as error:  # usage errors (exit 2) among them
            if message := error.format_message():  # empty: a group run bare, its help already shown
                say(message)
            raise SystemExit(error.exit_code) from None
        except typer.Abort:
            raise SystemExit(130) from None  # Ctrl-C at a prompt: the shell's status for SIGINT
        # Without standalone mode typer returns a command's exit status (typer.Exit) instead of exiting.
        raise SystemExit(status if isinstance(status, int) else 0)
