"""How the `nm-workflow` command fails: one line on stderr and a documented exit status.

| status | meaning                                                                              |
|--------|--------------------------------------------------------------------------------------|
| 0      | done                                                                                 |
| 1      | the command ran but could not finish (e.g. a rebuild of the projection is running)   |
| 2      | a bad argument, option or `NM_` setting: change the command line or the environment  |
|        | (an output file named on the command line that cannot be written is one of these)    |
| 3      | something the command needs is unavailable: the database (with host:port and why),   |
|        | the data folder, or the network port to listen on; the command itself was fine       |

The same table is in docs/operators.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import typer

from nm_workflow.application.errors import NotFound, StoreUnavailable
from nm_workflow.application.settings import Settings
from nm_workflow.domain.content import as_utc
from nm_workflow.domain.errors import DomainError, RuleViolation, WorkflowError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
_BEYOND_MICROSECONDS = re.compile(r"[.,]\d{7}")


def say(message: str) -> None:
    """Print `message` on stderr as one line, prefixed with the command's name."""
    typer.echo("nm-workflow: " + " ".join(message.split()), err=True)


def fail(message: str, status: int) -> NoReturn:
    """Print `message` as one line on stderr and exit with `status`."""
    say(message)
    raise typer.Exit(status)


def cannot_write(path: Path | None, error: OSError) -> NoReturn:
    """Exit 2 naming `path` and the system's reason: an output file named on the command line
    (`--output`, `--csv`, `audit keygen PATH`) is an argument to change, not an outage."""
    fail(f"Cannot write {path}: {error.strerror or error}.", EXIT_USAGE)


def time_option(text: str, option: str) -> datetime:
    """The time an option names, in UTC: ISO 8601 text with a zone, years 1-9999 once in UTC.

    Exits 2 with a one-line message otherwise, where the HTTP API answers 422 (validation-error).
    """
    if _BEYOND_MICROSECONDS.search(text):  # fromisoformat would cut them: a --to would leave out its µs
        fail(f"{option} {text!r} has more than 6 decimals of a second (times are kept in µs).", EXIT_USAGE)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not an ISO 8601 time, e.g. 2026-03-01T00:00:00Z.", EXIT_USAGE)
    if moment.tzinfo is None:
        fail(f"{option} {text!r} has no time zone: add Z or an offset such as +08:00.", EXIT_USAGE)
    try:
        return as_utc(moment, "time")
    except RuleViolation as error:
        fail(f"{option} {text!r}: {error.detail}", EXIT_USAGE)


@contextmanager
def reported(settings: Settings) -> Iterator[None]:
    """Turn the service's errors into `fail`: infrastructure 3, refused input 2, anything else 1."""
    try:
        yield
    except StoreUnavailable as error:
        fail(f"{error.detail.rstrip('.')} ({settings.database_location()}): {_cause(error, settings)}",
             EXIT_UNAVAILABLE)  # fmt: skip
    except (DomainError, NotFound) as error:
        fail(error.detail, EXIT_USAGE)
    except WorkflowError as error:
        fail(error.detail, EXIT_FAILED)


def _cause(error: BaseException, settings: Settings) -> str:
    """The first line of the last error in `error`'s chain of causes (libpq's or SQLite's own
    words, e.g. "unable to open database file"), the password removed.

    Only causes are followed (`raise ... from`), never an error's context: an error raised while
    another was being handled (SQLite's, after the library's pool found no connection to reuse)
    is not caused by it, and the one handled names nothing an operator can act on.
    """
    inner: BaseException = error
    while (deeper := inner.__cause__) is not None:
        inner = deeper
    lines = str(inner).strip().splitlines()
    text = lines[0] if lines else type(inner).__name__
    password = settings.database_password()
    return text.replace(password, "***") if password else text
