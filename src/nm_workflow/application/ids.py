"""An aggregate id's text, made once per id, and an id parsed once per text (ADR 0067, 0072, 0073).

`UUID.__str__` formats the 128-bit number in Python, about 8,000 instructions. The
projections' batch turns the same few aggregates' ids into text several times per event:
every row's id column on SQLite, `quarterly_evaluation`'s members and the facts it folds
(nm_workflow.application.facts, supervision_facts), the ids a batch prefetches. The other way,
`UUID(text)` parses in Python, about 11,000 instructions: SQLite gives each event's aggregate
id and each id column of a row read back as text, the same few aggregates' again and again.
"""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

K = TypeVar("K")
V = TypeVar("V")

_ID_TEXTS: dict[int, str] = {}
_ID_TEXTS_KEPT = 4096
"""A UUID's text by its number (an int's hash is C's; a UUID's is a Python call): about 0.5 MB
at most. Emptied when full: a batch's few ids are back at its next use, and a rebuild's ids,
each seen once, are not worth an eviction order's bookkeeping."""


def kept(cache: dict[K, V], key: K, value: V, most: int) -> V:
    """`value`, kept in `cache` under `key`; the cache emptied first when it holds `most` values.

    For caches of values made once per id that come back in runs (a batch's few aggregates):
    an eviction order's bookkeeping would cost more than the rare re-making it saves."""
    if len(cache) >= most:
        cache.clear()
    cache[key] = value
    return value


def id_text(value: Any) -> str:
    """`str(value)` of an aggregate's id; a UUID's made once per id. A miss costs what `str`
    does, and a lookup."""
    if type(value) is not UUID:  # another type, or a subclass that may write itself otherwise
        return str(value)
    number = value.int
    text = _ID_TEXTS.get(number)
    return kept(_ID_TEXTS, number, str(value), _ID_TEXTS_KEPT) if text is None else text


_PARSED: dict[str, UUID] = {}
_PARSED_KEPT = 4096
"""Ids by their text (about 0.6 MB at most), emptied when full as `_ID_TEXTS`."""


def parsed_id(text: str) -> UUID:
    """`UUID(text)`, made once per text. A UUID cannot be changed, so every row and event of an
    aggregate may share one; a text that is no UUID raises ValueError, as `UUID` does."""
    found = _PARSED.get(text)
    return kept(_PARSED, text, UUID(text), _PARSED_KEPT) if found is None else found
