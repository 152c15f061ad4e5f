"""The event library's persistence errors as the project's own: translated here, once (ADR 0009)."""

from __future__ import annotations

from eventsourcing.persistence import (
    ConnectionUnavailableError,
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from nm_workflow.application.errors import ConcurrentModification, StoreBusy, StoreUnavailable


class TranslatedErrors:
    """`with translated_errors():` the library's persistence errors raised as the project's (see
    `translate`), each with the library's error as its `__cause__`: the chain of causes ends at
    the database's own words.

    A class rather than a `@contextmanager` generator: every store call of a command enters one
    (domain/context_values.py says why).
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, _kind: object, error: BaseException | None, _traceback: object) -> None:
        if isinstance(error, DatabaseError | InterfaceError):
            translated = translate(error)
            if translated is not error:
                raise translated


_TRANSLATED_ERRORS = TranslatedErrors()  # no state: one serves every block, nested or concurrent


def translated_errors() -> TranslatedErrors:
    """See TranslatedErrors."""
    return _TRANSLATED_ERRORS


def translate(error: Exception) -> Exception:
    """The project's error for a library persistence error, with `error` as its `__cause__` (as
    `raise ... from error` sets it, for an error handed to another thread rather than raised
    here); any other error as it is (`_project_error`)."""
    translated = _project_error(error)
    if translated is not error:
        translated.__cause__ = error
    return translated


def _project_error(error: Exception) -> Exception:
    """The project's error for a library persistence error; any other error as it is.

    An integrity error is a concurrent write (ConcurrentModification) when it is a conflict:
    a unique violation, above all of an aggregate's (id, version), taken by another writer
    first (also a catalogue row of a table two processes create at once), or one the library
    raises itself for a record another writer made. Any other (a CHECK, NOT NULL or foreign
    key constraint) is a value the schema refuses, which the service should never have written:
    kept as it is, a bug to be answered as one (500, logged) rather than "retry".
    """
    if isinstance(error, IntegrityError):
        if not _is_conflict(error):
            return error
        return ConcurrentModification(
            "Another command wrote to the same item, policy version, evaluation or other record at the "
            "same time; reload it and retry."
        )
    if isinstance(error, (OperationalError, InterfaceError)):
        if _is_contention(error):
            return StoreBusy("The event store is busy (a lock wait timed out); retry shortly.")
        return StoreUnavailable(f"The event store is unavailable: {type(error).__name__}.")
    if isinstance(error, DatabaseError):
        return StoreUnavailable(f"The event store failed: {type(error).__name__}.")
    return error


_UNIQUE_VIOLATION = "23505"
_SQLITE_UNIQUE = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def _is_conflict(error: IntegrityError) -> bool:
    """A unique violation (the driver's PostgreSQL SQLSTATE or SQLite extended error code), or
    an integrity error without a driver's below it (the library's own record conflicts)."""
    driver = error.__cause__
    if driver is None:
        return True
    sqlstate = getattr(driver, "sqlstate", None)  # psycopg's
    if sqlstate is not None:
        return bool(sqlstate == _UNIQUE_VIOLATION)
    return getattr(driver, "sqlite_errorname", None) in _SQLITE_UNIQUE


# Lock timeout, statement cancelled by lock_timeout, serialization failure, deadlock.
_CONTENTION_SQLSTATES = {"55P03", "57014", "40001", "40P01"}


def _is_contention(error: Exception) -> bool:
    """A lock wait that timed out, as opposed to a database that cannot be reached.

    The library's own connection pool (SQLite's) times out when the process's writer
    connection stays taken by another of its writers: contention too.
    """
    if isinstance(error, ConnectionUnavailableError):
        return True
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    return sqlstate in _CONTENTION_SQLSTATES or "database is locked" in str(error)
