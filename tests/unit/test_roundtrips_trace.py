"""The round-trip counter reads libpq's trace (bench/roundtrips.py), which sometimes writes a
message sent in the middle of the line of a long message received."""

from __future__ import annotations

from pathlib import Path

from bench.roundtrips import Recorder

SAVE = 'SELECT * FROM "public"."nmworkflow_events_insert"($1::"uuid"[], $2::bigint[])'


def test_a_message_written_inside_a_received_rows_line_is_still_its_own_round_trip(tmp_path: Path) -> None:
    lines = [
        "F\t4\tSync",
        "B\t4\tBindComplete",
        "B\t906\tDataRow\t 4 36 '734baca0' 1 '4' 784 '\\x7b2272657"
        f'F\t134\tParse\t "" "{SAVE}" 2 NNNN NNNN',
        'F\t1370\tBind\t "" "" 2 1 1 2 60 \'\\x00\\x01\' 1 0',
        "F\t4\tSync",
        "B\t4\tParseComplete",
        "B\t5\tReadyForQuery\t I",
    ]
    trips = list(Recorder(tmp_path)._round_trips(1, lines))
    assert trips == ["(sync)", SAVE]
