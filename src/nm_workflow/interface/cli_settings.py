"""Settings for the command line: a bad environment variable is one clear line, not a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError

from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.interface.cli_errors import EXIT_USAGE, reported, say

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


@contextmanager
def opened_store() -> Iterator[EventStore]:
    """The event store the environment names, closed afterwards; failures are one line (`reported`)."""
    settings = load_settings()
    with reported(settings):
        store = EventStore(settings)
        try:
            yield store
        finally:
            store.close()
