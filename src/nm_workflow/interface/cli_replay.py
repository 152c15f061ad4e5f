"""`nm-workflow audit replay ID [--as-of T] [--json]`: an aggregate's timeline (docs/auditors.md)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import typer

from nm_workflow.application.replay import Step, timeline
from nm_workflow.application.store import EventStore
from nm_workflow.domain.timing import utc_text
from nm_workflow.interface.cli_errors import reported, time_option
from nm_workflow.interface.cli_output import JsonOption, show_table
from nm_workflow.interface.cli_settings import existing_database, load_settings

COLUMNS = ("version", "time", "who", "role", "department", "policy", "event", "what changed")


def replay(
    aggregate_id: Annotated[str, typer.Argument(help="The id of any aggregate: item, interaction, ...")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Stop at this time, e.g. 2026-03-02T10:00:00Z.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print who did what to one aggregate, event by event; exit 2 for an unknown id or a time
    before it existed, 3 when the store is unreachable."""
    try:
        parsed = UUID(aggregate_id)
    except ValueError:
        raise typer.BadParameter(f"{aggregate_id!r} is not an aggregate id.") from None
    moment = None if as_of is None else time_option(as_of, "--as-of")
    settings = existing_database(load_settings())
    with reported(settings):
        store = EventStore(settings)
        try:
            found = timeline(store, parsed, moment)
        finally:
            store.close()
    if as_json:  # the changes as objects, not as the text a table cell shows
        typer.echo(json.dumps([asdict(step) for step in found.steps], ensure_ascii=False, default=_plain))
        return
    show_table(COLUMNS, [_row(step) for step in found.steps], as_json=False)
    at = "" if moment is None else f" as of {utc_text(moment)}"
    typer.echo(f"{found.kind} {found.aggregate_id}: version {found.version}{at}.")


def _row(step: Step) -> list[str | int | None]:
    changes = json.dumps(step.changes, ensure_ascii=False, default=_plain, sort_keys=True)
    return [
        step.version, utc_text(step.recorded_at), step.actor_id, step.role, step.department,
        step.policy_version, step.event, changes,
    ]  # fmt: skip


def _plain(value: Any) -> str:
    """Times, ids and other values JSON has no type for, as their text."""
    return utc_text(value) if isinstance(value, datetime) else str(value)
