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
UTF-8). 200 characters of 4-byte UTF-8 fit PostgreSQL's largest btree index
row (2704 bytes), so every indexed column (actor, department, campaign) is
bounded by `short`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from nm_workflow.domain.errors import RuleViolation

_LAYOUT = frozenset("\n\r\t")


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
        for char in text:
            if unicodedata.category(char) == "Cc" and not (self.multiline and char in _LAYOUT):
                allowed = "" if self.multiline else "; it is one line"
                return f"must not contain control characters such as {char!r}{allowed}"
            if "\ud800" <= char <= "\udfff":
                return "must be valid Unicode (no lone surrogates)"
        return None

    def check(self, text: str, field: str) -> str:
        """`text` stripped of surrounding whitespace; RuleViolation naming `field` if it breaks the rule."""
        cleaned = text.strip()
        problem = self.problem(cleaned)
        if problem is not None:
            raise RuleViolation(f"The {field} {problem}.")
        return cleaned


SHORT = TextRule("short", 200, multiline=False)
MEDIUM = TextRule("medium", 2000, multiline=True)
LONG = TextRule("long", 5000, multiline=True)
BODY = TextRule("body", 200_000, multiline=True)
