"""The compliance pre-check (Ch. 4.1, 4.2): a revision's text against the policy's lexicon.

A lexicon is a list of categories, each with a severity (`block` or `warn`),
the legal basis it rests on, and its terms. Matching is done on a normalised
copy of the text, so that the evasions a writer would try still match:

- NFKC folds full-width and half-width forms (full-width `NO.1`, half-width katakana) into one;
- casefold ignores letter case;
- characters between the letters of a term that are spaces, punctuation,
  symbols, control or format characters (zero-width space and joiner
  included) are skipped, so `最 佳`, `最-佳` and `最\u200d佳` read `最佳`.

Every finding points back into the original field: `start` and `end` are
code-point offsets (Python `str` indexes) of the matched text there, and
`context` is the original text around it. One multi-pattern automaton
(Aho-Corasick, leftmost-longest) finds every term in one pass; see
docs/adr/0018-compliance-matching-with-ahocorasick-rs.md.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, cached_property, lru_cache
from itertools import accumulate
from typing import Any, TypedDict

from ahocorasick_rs import AhoCorasick, MatchKind

from nm_workflow.domain.oversight_errors import InvalidPolicy

CONTEXT_CHARS = 20
"""Characters of original text kept on each side of a finding."""
CHECKED_FIELDS = ("title", "body", "source_notes")
_SKIPPED_CATEGORIES = ("Z", "P", "S", "C")  # separators, punctuation, symbols, control and format


class Severity(StrEnum):
    BLOCK = "block"
    """The revision cannot go to review unless marketing justifies the finding."""
    WARN = "warn"
    """Legal must still acknowledge it; no justification needed."""


class Finding(TypedDict):
    """One match of a lexicon term in a field of a revision."""

    id: str
    field: str
    term: str
    category: str
    severity: str
    legal_basis: str
    start: int
    end: int
    matched: str
    context: str


@cache
def fold(char: str) -> str:
    """What one character reads as for matching: NFKC, casefolded, separators dropped ('' if none)."""
    folded = unicodedata.normalize("NFKC", char).casefold()
    return "".join(c for c in folded if not unicodedata.category(c).startswith(_SKIPPED_CATEGORIES))


def normalise_term(term: str) -> str:
    return "".join(fold(c) for c in term)


@dataclass(frozen=True)
class _Folded:
    """A field's normalised text and the way back from its indexes to the original's."""

    text: str
    before_drop: str  # the text with its characters folded, before the dropped ones were taken out
    dropped: re.Pattern[str] | None  # runs of the characters taken out (None: none were)
    origin: list[int] | None  # the whole map, when some character folded into several

    def original(self, index: int) -> int:
        if self.origin is not None:
            return self.origin[index]
        if self.dropped is None:
            return index
        runs, shifts = self._runs
        before = bisect_right(runs, index)  # runs of dropped characters at or before `index`
        return index + (shifts[before - 1] if before else 0)

    @cached_property
    def _runs(self) -> tuple[list[int], list[int]]:
        """The normalised index at which each run of dropped characters sits, and the original -
        normalised index from that run on. Made at the first finding: most fields have none, and
        a prose body has a run at every space (most of the fold's time when made for every field)."""
        assert self.dropped is not None
        spans = [run.span() for run in self.dropped.finditer(self.before_drop)]
        shifts = list(accumulate(end - start for start, end in spans))
        # A run starting at original index `start` sits at `start - (characters dropped before it)`.
        runs = [start - shift + (end - start) for (start, end), shift in zip(spans, shifts, strict=True)]
        return runs, shifts


def _fold_text(text: str) -> _Folded:
    table = {c: fold(c) for c in set(text)}
    if any(len(f) > 1 for f in table.values()):  # rare: ß, ﬁ, ㍿ ... map index by index
        origin = [i for i, c in enumerate(text) for _ in table[c]]
        return _Folded("".join(table[c] for c in text), text, None, origin)
    if text.isascii():
        # Only A-Z fold to another character there (NFKC leaves ASCII as it is), and str.lower
        # turns exactly those, in C: the substitution below calls back into Python per letter.
        text = text.lower()
    else:
        # Regular expressions rather than str.translate: translate looks up every character of a
        # non-ASCII text in the table, which is ten times slower on a long Chinese body.
        replaced = {c: f for c, f in table.items() if f and f != c}
        if replaced:
            text = _class_of("".join(sorted(replaced)), runs=False).sub(lambda m: replaced[m[0]], text)
    dropped = "".join(sorted(c for c, f in table.items() if not f))
    if not dropped:
        return _Folded(text, text, None, None)
    pattern = _class_of(dropped, runs=True)
    return _Folded(pattern.sub("", text), text, pattern, None)


@lru_cache(maxsize=256)
def _class_of(chars: str, *, runs: bool) -> re.Pattern[str]:
    return re.compile("[" + re.escape(chars) + "]" + ("+" if runs else ""))


@dataclass(frozen=True)
class _Entry:
    term: str
    category: str
    severity: str
    legal_basis: str


class Matcher:
    """A lexicon compiled for matching; build once per policy version, use from any thread.

    `lexicon`: {"categories": [{"name", "severity", "legal_basis", "terms": [...]}, ...]};
    `version`: the policy version it belongs to. InvalidPolicy when two terms read the same.
    """

    def __init__(self, lexicon: dict[str, Any], version: int) -> None:
        self.version = version
        self._entries: list[_Entry] = []
        patterns: list[str] = []
        seen: dict[str, str] = {}
        for category in lexicon["categories"]:
            for term in category["terms"]:
                pattern = normalise_term(term)
                if not pattern:
                    raise InvalidPolicy(f"The lexicon term {term!r} has no letters to match.")
                if pattern in seen:
                    raise InvalidPolicy(f"The lexicon terms {seen[pattern]!r} and {term!r} read the same.")
                seen[pattern] = term
                patterns.append(pattern)
                entry = _Entry(term, category["name"], category["severity"], category["legal_basis"])
                self._entries.append(entry)
        self._automaton = AhoCorasick(patterns, matchkind=MatchKind.LeftmostLongest) if patterns else None

    def check(self, fields: dict[str, str]) -> list[Finding]:
        """Findings in each field, in field then position order; ids `f1`, `f2`, ..."""
        findings: list[Finding] = []
        for name, text in fields.items():
            findings += self._check_field(name, text, len(findings))
        return findings

    def _check_field(self, name: str, text: str, numbered: int) -> list[Finding]:
        if self._automaton is None or not text:
            return []
        folded = _fold_text(text)
        found: list[Finding] = []
        for pattern, start, end in self._automaton.find_matches_as_indexes(folded.text):
            entry = self._entries[pattern]
            first, last = folded.original(start), folded.original(end - 1) + 1
            context = text[max(first - CONTEXT_CHARS, 0) : last + CONTEXT_CHARS]
            found.append(
                Finding(
                    id=f"f{numbered + len(found) + 1}", field=name, term=entry.term,
                    category=entry.category, severity=entry.severity, legal_basis=entry.legal_basis,
                    start=first, end=last, matched=text[first:last], context=context,
                )
            )  # fmt: skip
        return found
