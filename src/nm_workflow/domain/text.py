"""The one rule set for text that reaches a stored or indexed column.

Every free-text value the service stores has a bound and a character rule,
checked the same way over HTTP (the request schemas' Short/Medium/Long/Body
types) and at the command line (`keys create --actor/--department`):

| kind   | at most (characters) | line breaks and tabs | used for                                          |
|--------|----------------------|----------------------|---------------------------------------------------|
| short  | 200                  | no                   | names and ids: actor, department, theme, title ... |
| medium | 2000                 | yes                  | audiences, effects, reasons, links, URLs          |
| long   | 5000                 | yes                  | source notes                                      |
| body   | 200000               | yes                  | a revision's body                                 |

Always: surrounding whitespace is stripped, the rest must not be empty,
no NUL or other control character (Unicode category Cc) except line
breaks and tabs where allowed, and no lone surrogate (not storable as
UTF-8). A one-line text also holds no LINE SEPARATOR or PARAGRAPH SEPARATOR
(U+2028, U+2029): line breaks that are not control characters, yet split the
value wherever lines are split by Unicode's rules (Python's `splitlines`,
JavaScript), e.g. a tab-separated line of `keys list`.

200 characters of 4-byte UTF-8 fit PostgreSQL's largest btree index
row (2704 bytes), so every indexed column (actor, department, campaign) is
bounded by `short`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nm_workflow.domain.errors import RuleViolation

# The characters a text must not hold, found by one search in C rather than a look-up of each
# character's category in Python (a body is up to 200,000 characters, checked on every draft).
# Unicode's category Cc is exactly U+0000-U+001F and U+007F-U+009F (fixed by the standard; the
# unit test checks it against unicodedata); lone surrogates cannot be stored as UTF-8.
_CONTROL_BUT_LAYOUT = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # all of Cc but \t, \n and \r
_SURROGATES = "\ud800-\udfff"
# What "surrounding whitespace" is: Unicode's White_Space, as the HTTP schemas strip it (pydantic's
# `strip_whitespace`). Python's `str.strip()` also strips U+001C-U+001F, control characters that
# are not White_Space: a name sent as "\x1fmia" must be refused at the command line as over HTTP.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_SEPARATORS = "\u2028\u2029"  # Unicode's line and paragraph separators (categories Zl, Zp)
_FORBIDDEN = {
    False: re.compile(f"[{_CONTROL_BUT_LAYOUT}\t\n\r{_SEPARATORS}{_SURROGATES}]"),  # one line
    True: re.compile(f"[{_CONTROL_BUT_LAYOUT}{_SURROGATES}]"),  # multiline: layout allowed
}


@dataclass(frozen=True)
class TextRule:
    name: str
    max_length: int
    multiline: bool

    def problem(self, text: str) -> str | None:
        """Why `text` (already stripped) breaks this rule, as a phrase; None when it is fine."""
        if not text:
            return "must not be empty"
        if len(text) > self.max_length:
            return f"must be at most {self.max_length} characters (got {len(text)})"
        first = _FORBIDDEN[self.multiline].search(text)  # the first offending character, if any
        if first is None:
            return None
        char = first[0]
        if "\ud800" <= char <= "\udfff":
            return "must be valid Unicode (no lone surrogates)"
        if char in _SEPARATORS:
            return f"must be one line: no line or paragraph separator such as {char!r}"
        allowed = "" if self.multiline else "; it is one line"
        return f"must not contain control characters such as {char!r}{allowed}"

    def check(self, text: str, field: str) -> str:
        """`text` stripped of surrounding whitespace; RuleViolation naming `field` if it breaks the rule."""
        cleaned = trimmed(text)
        problem = self.problem(cleaned)
        if problem is not None:
            raise RuleViolation(f"The {field} {problem}.")
        return cleaned


SHORT = TextRule("short", 200, multiline=False)
MEDIUM = TextRule("medium", 2000, multiline=True)
LONG = TextRule("long", 5000, multiline=True)
BODY = TextRule("body", 200_000, multiline=True)


def trimmed(text: str) -> str:
    """`text` without surrounding Unicode White_Space: how stored text is trimmed, and so how
    anything compared with it (a filter, a key) must be. Not `str.strip()`, which also takes
    control characters (U+001C-U+001F) that the rules refuse."""
    return text.strip(WHITESPACE)
