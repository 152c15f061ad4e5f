"""Context variables set for one block: what a command's metadata and its pinned policy use.

A class rather than a `@contextmanager` generator: a command enters such blocks several times
(its metadata twice, the policy version in force once), and a generator-based context manager
costs about five times what `__enter__` and `__exit__` do (a generator, its frame, a call of
`next` on each side, a `StopIteration`): docs/performance-history.md, "Fourth pass". Pure: no I/O.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ContextValues(Generic[T]):
    """`with ContextValues(entered, (variable, value), ...) as entered:` each variable holds its
    value inside the block and what it held before after it, whichever way the block ends."""

    __slots__ = ("_entered", "_set", "_settings")

    def __init__(self, entered: T, *settings: tuple[ContextVar[Any], Any]) -> None:
        self._entered, self._settings = entered, settings
        self._set: list[tuple[ContextVar[Any], Token[Any]]] = []

    def __enter__(self) -> T:
        self._set = [(variable, variable.set(value)) for variable, value in self._settings]
        return self._entered

    def __exit__(self, *_: object) -> None:
        for variable, token in reversed(self._set):
            variable.reset(token)
