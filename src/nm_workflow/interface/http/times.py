"""The one rule for times and dates written as text, for the HTTP API and the command line.

Times are RFC 3339 section 5.6 date-times: `YYYY-MM-DDTHH:MM:SS[.ffffff]` ('T', 't' or a space
between) and a zone (`Z` or `±HH:MM`), years 1-9999 once in UTC, seconds 00-59 (no
leap second: LEAP_SECOND). Anything else, ISO 8601's other forms too (basic `20261130T010203Z`,
week dates `2026-W48-1`, no seconds) and a numeric string above all ("1700000000": an epoch?),
is refused: too easily misread. Dates are `YYYY-MM-DD`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from nm_workflow.domain.content import as_utc
from nm_workflow.domain.errors import RuleViolation

TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_MOMENT_EXAMPLE, _DAY_EXAMPLE = "2027-03-01T09:30:00+08:00", "2027-03-01"
LEAP_SECOND = "is a leap second (:60): seconds are 00-59 here (write :59.999999 or the next second)"
"""Python's datetime and both databases' time types have no second 60, so no time here has one."""
_TIME = re.compile(TIME_PATTERN)
_DATE = re.compile(DATE_PATTERN)
# Near misses, told apart for a message that says what to change.
_WITHOUT_ZONE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?")
_BEYOND_MICROSECONDS = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}\.\d{7,}([Zz]|[+-]\d{2}:\d{2})")


def _time_text(value: Any) -> Any:
    """`value` if it is time text of TIME_PATTERN; the type after it checks that the time exists."""
    if isinstance(value, str) and _TIME.fullmatch(value):
        if value[17:19] == "60":  # the seconds, where TIME_PATTERN puts them
            raise ValueError(LEAP_SECOND)
        return value
    if isinstance(value, str) and _WITHOUT_ZONE.fullmatch(value):
        raise ValueError("has no time zone: add Z or an offset such as +08:00")
    if isinstance(value, str) and _BEYOND_MICROSECONDS.fullmatch(value):
        raise ValueError("has more than 6 decimals of a second (times are kept in microseconds)")
    raise ValueError(f"must be RFC 3339 / ISO 8601 text, e.g. '{_MOMENT_EXAMPLE}'")


def _date_text(value: Any) -> Any:
    if isinstance(value, str) and _DATE.fullmatch(value):
        return value
    raise ValueError(f"must be RFC 3339 / ISO 8601 text, e.g. '{_DAY_EXAMPLE}'")


def _representable_in_utc(moment: datetime) -> datetime:
    try:
        return as_utc(moment, "time")
    except RuleViolation as error:
        raise ValueError(error.detail) from None


Moment = Annotated[
    AwareDatetime,
    BeforeValidator(_time_text),
    AfterValidator(_representable_in_utc),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "pattern": TIME_PATTERN, "examples": [_MOMENT_EXAMPLE]}
    ),
]
"""Every time the API takes: RFC 3339 text with a zone, years 1-9999 once in UTC."""
Day = Annotated[
    date,
    BeforeValidator(_date_text),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN, "examples": [_DAY_EXAMPLE]}),
]
"""Every date the API takes: ISO 8601 calendar date text."""

_MOMENTS = TypeAdapter(Moment)


def parsed_time(text: str) -> datetime:
    """The time `text` names, in UTC, by the API's rule (Moment); for the command line's options.

    Raises ValueError with the one sentence the API would answer in its `errors`.
    """
    try:
        moment: datetime = _MOMENTS.validate_python(text)
    except ValidationError as error:
        raise ValueError(str(error.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    return moment
