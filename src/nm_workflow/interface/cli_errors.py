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

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TextIO

import typer

from nm_workflow.application.errors import NotFound, StoreUnavailable
from nm_workflow.application.settings import Settings
from nm_workflow.domain.errors import DomainError, WorkflowError
from nm_workflow.interface.http.times import parsed_time

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


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
    """The time an option names, in UTC, accepted exactly as the HTTP API accepts a time
    (`parsed_time`: RFC 3339 text with a zone, years 1-9999 once in UTC).

    Exits 2 with a one-line message otherwise, where the HTTP API answers 422 (validation-error).
    """
    try:
        return parsed_time(text)
    except ValueError as error:
        fail(f"{option} {text!r}: {str(error).rstrip('.')}.", EXIT_USAGE)


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


class OutputFailed(Exception):
    """Standard output took no more text: its reader went away, its disk is full, or it cannot
    encode the text (`PYTHONIOENCODING=ascii`)."""

    def __init__(self, error: OSError | UnicodeEncodeError) -> None:
        super().__init__(str(error))
        self.error = error


class _GuardedOutput:
    """Standard output whose write failures are `OutputFailed`, told apart from the command's own
    errors (an unreadable data folder is another matter, with its own status). Its binary
    `buffer` is guarded too: typer writes there, through a UTF-8 wrapper of its own, when the
    text stream's encoding is ASCII (`PYTHONIOENCODING=ascii`)."""

    def __init__(self, stream: TextIO | BinaryIO) -> None:
        self._stream = stream

    @property
    def buffer(self) -> _GuardedOutput:
        return _GuardedOutput(self._stream.buffer)  # type: ignore[union-attr]

    def write(self, text: Any) -> int:
        try:
            return self._stream.write(text)
        except (OSError, UnicodeEncodeError) as error:
            raise OutputFailed(error) from error

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            raise OutputFailed(error) from error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def guarded_output() -> Iterator[None]:
    """Run the command with standard output guarded: a reader gone (`| head`) ends it quietly with
    status 1; a full disk, an encoding that cannot carry the text, or no standard output at all
    (closed) is one line and status 2 (the output was chosen on the command line or in the
    environment, as `--output FILE` is)."""
    real = sys.stdout
    if real is None:  # closed (`>&-`): Python starts without it; checked before the command does anything
        say("Cannot write standard output: it is closed.")
        raise SystemExit(EXIT_USAGE)
    sys.stdout = _GuardedOutput(real)
    try:
        try:
            yield
        finally:
            sys.stdout.flush()
    except OutputFailed as failure:
        os.dup2(os.open(os.devnull, os.O_WRONLY), real.fileno())  # no second failure at exit
        if isinstance(failure.error, BrokenPipeError):
            raise SystemExit(EXIT_FAILED) from None
        if isinstance(failure.error, UnicodeEncodeError):
            say(f"Standard output cannot carry this text (encoding {failure.error.encoding});"
                " set PYTHONIOENCODING=utf-8 or a UTF-8 locale.")  # fmt: skip
        else:
            say(f"Cannot write standard output: {failure.error.strerror or failure.error}.")
        raise SystemExit(EXIT_USAGE) from None
    finally:
        sys.stdout = real
