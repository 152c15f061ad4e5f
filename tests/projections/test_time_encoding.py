"""Every time Python can hold is stored, read back and ordered exactly on both databases,
whatever the machine's zone (the SQLite text once lost the leading zeros of years < 1000)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nm_workflow.application.store import EventStore
from projections.database import Database
from projections.schema import Table, col
from projections.sql import SQLITE

PROBE = Table("time_probe", (col("n", "int"), col("at", "time"), col("day", "date")), primary_key=("n",))
TABLES = {"time_probe": "time_probe"}
EDGES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(999, 6, 1, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1000, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2026, 11, 29, 16, 0, 0, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.usefixtures("machine_time_zone")
def test_every_year_round_trips_and_sorts_as_time(store: EventStore) -> None:
    db = Database(store)
    with db.write(TABLES) as tx:
        for statement in PROBE.ddl(db.dialect):
            tx.execute(statement)
        for n, moment in enumerate(reversed(EDGES)):
            # Written in another zone than UTC: the database keeps the instant.
            written = moment if moment.year in (1, 9999) else moment.astimezone(timezone(timedelta(hours=8)))
            tx.execute("INSERT INTO {time_probe} (n, at, day) VALUES (:n, :at, :day)",
                       {"n": n, "at": written, "day": moment.date()})  # fmt: skip
    with db.read(TABLES) as tx:
        rows = [PROBE.decode(db.dialect, r) for r in tx.all("SELECT * FROM {time_probe} ORDER BY at")]
        after = tx.all(
            "SELECT n FROM {time_probe} WHERE at >= :since", {"since": datetime(500, 1, 1, tzinfo=UTC)}
        )
        days = tx.all("SELECT day FROM {time_probe} ORDER BY day")
    assert [r["at"] for r in rows] == EDGES
    assert all(r["at"].utcoffset() == timedelta(0) for r in rows)
    assert len(after) == len(EDGES) - 2
    assert [PROBE.decode(db.dialect, d)["day"] for d in days] == [m.date() for m in EDGES]


def test_the_sqlite_text_of_a_time_has_a_four_digit_year() -> None:
    assert SQLITE.param(datetime(999, 6, 1, tzinfo=UTC)) == "0999-06-01 00:00:00.000000"
    assert SQLITE.param(date(999, 6, 1)) == "0999-06-01"
    assert SQLITE.time_out("0999-06-01 00:00:00.000000") == datetime(999, 6, 1, tzinfo=UTC)


def test_times_written_and_read_on_sqlite_share_their_text_and_value() -> None:
    """A batch writes back the times of the rows it read: each text is made, and each read
    parsed, once; whatever the zone a time is given in, its text is its instant's in UTC."""
    moment = datetime(2026, 11, 30, 12, 0, 0, 5, tzinfo=UTC)
    text = "2026-11-30 12:00:00.000005"
    shanghai = moment.astimezone(timezone(timedelta(hours=8)))
    assert SQLITE.param(moment) == SQLITE.param(moment.replace()) == SQLITE.param(shanghai) == text
    assert SQLITE.param(moment.replace(microsecond=0)) == "2026-11-30 12:00:00.000000"
    assert SQLITE.time_out(text) == moment
    assert SQLITE.time_out(text) is SQLITE.time_out(text)  # parsed once (a datetime is immutable)
    assert SQLITE.time_out(SQLITE.param(shanghai)) == shanghai


@given(
    st.datetimes(
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=14))])
    )
)
def test_a_time_s_sqlite_text_is_its_utc_isoformat(moment: datetime) -> None:
    # Written from its fields at once (projections/sql.py): the text `isoformat` gives.
    try:
        expected = moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    except OverflowError:  # out of datetime's range in UTC
        return
    assert SQLITE.param(moment) == expected
    assert SQLITE.param(moment) == expected  # the cached text too
