"""Compact JSON text from one C encoder made once (ADR 0067, ADR 0068).

`json.JSONEncoder.encode` makes its C encoder (and a dict of markers and a float formatter it
does not use) anew at every call: 5,000-10,000 instructions of Python, as many as encoding a
small value itself. The store's events and the projections' rows are encoded at every command,
so both take their encoder from here, made once with the options they need.
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import (  # type: ignore[attr-defined]
    JSONEncoder,
    c_make_encoder,
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any


def compact_encoder(
    default: Callable[[Any], Any], *, sort_keys: bool, ensure_ascii: bool = False
) -> Callable[[Any], str]:
    """`json.dumps(value, default=default, sort_keys=sort_keys, ensure_ascii=ensure_ascii,
    separators=(",", ":"))` as a function of `value`, the same text for every value.

    The C encoder is private to the json module (`json.encoder.c_make_encoder`, called as
    `JSONEncoder.iterencode` calls it); without it, `JSONEncoder.encode`. Without the
    circularity check (markers None): one encoder is shared by every thread, and a
    shared check would see another thread's containers. Events and rows are trees of values; a
    cycle still fails, with a RecursionError rather than a ValueError.
    """
    if c_make_encoder is None:  # an interpreter without json's C accelerator (PyPy): json's own way
        options = {"sort_keys": sort_keys, "ensure_ascii": ensure_ascii, "check_circular": False}
        return JSONEncoder(default=default, separators=(",", ":"), **options).encode
    # json.encoder's own call of its accelerator; the string encoders are the C ones beside it.
    strings = encode_basestring_ascii if ensure_ascii else encode_basestring
    encode = c_make_encoder(None, default, strings, None, ":", ",", sort_keys, False, True)
    return lambda value: "".join(encode(value, 0))
