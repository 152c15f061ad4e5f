"""An idle service keeps no transaction open on PostgreSQL: none of its connections holds back VACUUM.

The app runs as in production: its pool serves commands (group commit) and reads, and its
embedded projections and webhook delivery run in threads of their own. Once they have caught
up and nothing arrives, no connection of the database may be in a transaction or hold a
snapshot (`backend_xmin`): one that did would hold back VACUUM's horizon for as long as the
service stays idle.

The probe reads `pg_stat_activity` one statement per transaction: within one transaction
PostgreSQL answers from a copy taken at the first read, so a probe left in a transaction keeps
showing the states of that moment (a batch in flight, `active` with an old `xact_start`)
long after they ended.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import psycopg
import pytest
from psycopg.rows import DictRow, dict_row

from nm_workflow.application.log_signal import LogSignal
from nm_workflow.application.settings import Settings
from tests.e2e.api import OBSERVED_AT, Api

# Below the 5 s idle_in_transaction_session_timeout the library sets on the pool's connections:
# a transaction left idle would be ended by the server closing its connection after that.
SETTLE_SECONDS = 3.0
# The connections to the test's database (but the probe's own) whose transaction began before `mark`.
BEGUN_BEFORE = (
    "SELECT pid, state, wait_event, xact_start, backend_xmin, query FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start < %(mark)s"
)


def still_open(probe: psycopg.Connection[DictRow], mark: datetime) -> list[DictRow]:
    """The transactions begun before `mark` still open once a look finds none or time is up.

    One the service ended shows for the length of its last statement; one left open in every look.
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    while (open_ := probe.execute(BEGUN_BEFORE, {"mark": mark}).fetchall()) and time.monotonic() < deadline:
        pass
    return open_


def idle_waits(api: Api, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """An event set whenever the app's projection runner, having found nothing to do, starts to wait."""
    signal: LogSignal = api.client.app.state.store.appended  # type: ignore[attr-defined]
    waiting, wait = threading.Event(), signal.wait

    def idle(seen: int, timeout: float) -> int:
        waiting.set()
        return wait(seen, timeout)

    monkeypatch.setattr(signal, "wait", idle)
    return waiting


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # the statistics are PostgreSQL's
def test_once_idle_no_connection_of_the_service_holds_a_transaction_or_a_snapshot(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.database_url is not None
    waiting = idle_waits(api, monkeypatch)
    items = [api.published() for _ in range(3)]
    observation = {"platform": "wechat", "observed_at": OBSERVED_AT, "counters": {"impressions": 10}}
    last = api.post(f"/items/{items[-1]}/metrics", observation, api.analyst)
    assert last.status_code == 200, last.text
    caught_up = api.get("/items", api.marketing, wait_for_position=last.headers["Log-Position"])
    assert caught_up.status_code == 200, caught_up.text
    assert {item["item_id"] for item in caught_up.json()["items"]} == set(items)
    waiting.clear()
    assert waiting.wait(SETTLE_SECONDS), "the projections did not go idle"  # a whole pass found nothing

    with psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row) as probe:
        with psycopg.connect(settings.database_url) as holder:  # a snapshot held: the probe sees it
            holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            holder.execute("SELECT 1")
            now = probe.execute("SELECT clock_timestamp() AS mark").fetchone()
            assert now is not None
            mark = now["mark"]
            held = {row["pid"]: row for row in probe.execute(BEGUN_BEFORE, {"mark": mark})}
            assert held[holder.info.backend_pid]["backend_xmin"] is not None
            holder.rollback()

        # The service has nothing to do since before `mark`: what it began then has ended.
        assert still_open(probe, mark) == []
