"""Compact JSON text from one C encoder made once (ADR 0067, ADR 0068).

`json.JSONEncoder.encode` makes its C encoder (and a dict of markers and a float formatter it
does not use) anew at every call: 5,000-10,000 instructions of Python, as many as encoding a
small value itself. The store's events and the projections' rows are encoded at every command,
so both take their encoder from here, made once with the options they need.
"""

from __future__ import annotations

from _json import encode_basestring, make_encoder  # what json.encoder itself uses
from collections.abc import Callable
from typing import Any


def compact_encoder(default: Callable[[Any], Any], *, sort_keys: bool) -> Callable[[Any], str]:
    """`json.dumps(value, default=default, sort_keys=sort_keys, ensure_ascii=False,
    separators=(",", ":"))` as a function of `value`, the same text for every value.

    Without the circularity check (markers None): one encoder is shared by every thread, and a
    shared check would see another thread's containers. Events and rows are trees of values; a
    cycle still fails, with a RecursionError rather than a ValueError.
    """
    encode = make_encoder(None, default, encode_basestring, None, ":", ",", sort_keys, False, True)
    return lambda value: "".join(encode(value, 0))
