"""The character rule of stored text (domain/text.py): which characters it refuses, and what it says."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from nm_workflow.domain.errors import RuleViolation
from nm_workflow.domain.text import BODY, SHORT, WHITESPACE


def test_the_refused_characters_are_exactly_control_characters_lone_surrogates_and_line_breaks() -> None:
    refused_one_line = {c for c in map(chr, range(sys.maxunicode + 1)) if SHORT.problem("x" + c)}
    control = {c for c in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(c) == "Cc"}
    surrogates = {chr(c) for c in range(0xD800, 0xE000)}
    separators = {c for c in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(c) in ("Zl", "Zp")}
    assert separators == {"\u2028", "\u2029"}
    assert refused_one_line == control | surrogates | separators
    layout = {"\t", "\n", "\r"} | separators
    assert {c for c in refused_one_line if not BODY.problem("x" + c)} == layout


def test_a_one_line_text_splits_into_one_line_wherever_it_is_split() -> None:
    # Each character str.splitlines() breaks at is refused in a one-line field.
    breaks = {c for c in map(chr, range(sys.maxunicode + 1)) if len(f"a{c}b".splitlines()) > 1}
    assert all(SHORT.problem(f"a{c}b") for c in breaks)
    assert (
        SHORT.problem("mia\u2028root") == "must be one line: no line or paragraph separator such as '\\u2028'"
    )


def test_the_first_offending_character_is_the_one_named() -> None:
    one_line = "must not contain control characters such as '\\x85'; it is one line"
    assert SHORT.problem("a\x85b\x00") == one_line
    assert BODY.problem("a\tb\udc80c\x07") == "must be valid Unicode (no lone surrogates)"
    assert BODY.problem("a\nb\x07c\udc80") == "must not contain control characters such as '\\x07'"
    assert BODY.problem("lines\nand\ttabs") is None


def test_surrounding_whitespace_is_unicodes_white_space_not_the_control_characters_python_strips() -> None:
    python_strips = {c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()}
    assert set(WHITESPACE) == python_strips - {"\x1c", "\x1d", "\x1e", "\x1f"}
    assert SHORT.check("\u3000 mia\u00a0\n", "actor id") == "mia"
    with pytest.raises(RuleViolation, match="control characters"):
        SHORT.check("\x1fmia", "actor id")
