"""An aggregate id's text, made once per id (ADR 0067, ADR 0072).

`UUID.__str__` formats the 128-bit number in Python, about 8,000 instructions. The
projections' batch turns the same few aggregates' ids into text several times per event:
every row's id column on SQLite, `quarterly_evaluation`'s members and the facts it folds
(nm_workflow.application.facts, supervision_facts), the ids a batch prefetches.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

_ID_TEXTS: dict[int, str] = {}
_ID_TEXTS_KEPT = 4096
"""A UUID's text by its number (an int's hash is C's; a UUID's is a Python call): about 0.5 MB
at most. Emptied when full: a batch's few ids are back at its next use, and a rebuild's ids,
each seen once, are not worth an eviction order's bookkeeping."""


def id_text(value: Any) -> str:
    """`str(value)` of an aggregate's id; a UUID's made once per id. A miss costs what `str`
    does, and a lookup."""
    if type(value) is not UUID:  # another type, or a subclass that may write itself otherwise
        return str(value)
    number = value.int
    text = _ID_TEXTS.get(number)
    if text is None:
        if len(_ID_TEXTS) >= _ID_TEXTS_KEPT:
            _ID_TEXTS.clear()
        text = _ID_TEXTS[number] = str(value)
    return text
