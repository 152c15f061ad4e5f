"""The round-trip counter reads libpq's trace (bench/roundtrips.py), which sometimes writes a
message sent in the middle of the line of a long message received."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

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


class _Traced:
    """A connection of which the recorder only sets the trace."""

    def __init__(self) -> None:
        self.pgconn = self
        self.traced_to: int | None = None

    def trace(self, fileno: int) -> None:
        self.traced_to = fileno

    def set_trace_flags(self, flags: object) -> None:
        pass


def test_connections_opened_at_once_each_get_a_trace_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pool opens connections from several threads at once; two that got the same number shared
    # a file, and one's prepared statements were read as the other's (a save labelled as a read).
    together = threading.Barrier(8)

    def connect(*_: object, **__: object) -> _Traced:
        together.wait(5)
        return _Traced()

    monkeypatch.setattr(psycopg.Connection, "connect", connect)
    recorder = Recorder(tmp_path)
    with recorder.installed():
        threads = [threading.Thread(target=psycopg.connect) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len({path for _, path in recorder._traces}) == 8
