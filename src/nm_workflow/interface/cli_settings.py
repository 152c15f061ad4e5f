"""Settings for the command line: a bad environment variable is one clear line, not a traceback."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

from nm_workflow.application.settings import Settings

SECRET = frozenset({"NM_DATABASE_URL"})  # may hold a password: never echoed
BAD_CONFIGURATION = 2  # the exit status of a usage error: the command was given something unusable


def load_settings() -> Settings:
    """The settings from the environment; on a bad value, exit naming each variable and the problem."""
    try:
        return Settings()
    except ValidationError as error:
        console = Console(stderr=True)
        for problem in error.errors():
            variable = "NM_" + "_".join(str(part) for part in problem["loc"]).upper()
            message = problem["msg"].removeprefix("Value error, ")
            shown = "" if variable in SECRET else f" (got {problem['input']!r})"
            console.print(f"{variable}: {message}{shown}", style="red", soft_wrap=True)
        raise typer.Exit(BAD_CONFIGURATION) from None
