"""Settings for the command line: a bad environment variable is one clear line, not a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.interface.cli_errors import EXIT_UNAVAILABLE, EXIT_USAGE, fail, reported, say

SECRET = frozenset({"NM_DATABASE_URL"})  # may hold a password: never echoed


def load_settings() -> Settings:
    """The settings from the environment; on a bad value, exit naming each variable and the problem."""
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            variable = "NM_" + "_".join(str(part) for part in problem["loc"]).upper()
            message = problem["msg"].removeprefix("Value error, ")
            shown = "" if variable in SECRET else f" (got {problem['input']!r})"
            say(f"{variable}: {message}{shown}")
        raise typer.Exit(EXIT_USAGE) from None


def existing_database(settings: Settings) -> Settings:
    """`settings`, once their SQLite file is known to exist; exit 3 naming it otherwise.

    Opening the store creates a missing file: a command that only reads the log (an audit, a
    report), run in another folder than the service's, would otherwise report on a new, empty
    database ("intact: 0 records verified") instead of saying that it found none.
    """
    if not settings.uses_postgres and not settings.sqlite_path.exists():
        fail(f"No database at {settings.sqlite_path}: run this in the folder the service runs in,"
             " or set NM_DATA_DIR to its data folder.", EXIT_UNAVAILABLE)  # fmt: skip
    return settings


@contextmanager
def opened_store(*, existing: bool = False) -> Iterator[EventStore]:
    """The event store the environment names, closed afterwards; failures are one line (`reported`).

    `existing`: the SQLite file must exist already (`existing_database`).
    """
    settings = existing_database(load_settings()) if existing else load_settings()
    with reported(settings):
        store = EventStore(settings)
        try:
            yield store
        finally:
            store.close()
