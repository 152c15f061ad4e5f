"""Note the times of snapshots stored before their times were noted (ADR 0044).

Snapshots taken by a release before ADR 0044 have no row in `snapshot_times`: `as_of` reads of
times before an aggregate's first noted snapshot then find the version by a binary search. This
notes them all once (`nm-workflow snapshots note-times`): it reads every stored snapshot's
(aggregate id, version) and the rows already noted, then, for each one missing, the event at
that version (one read each), whose time it notes. Safe while the service runs (a note is
inserted only where none is), and to run again (it notes only what is still missing).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

from nm_workflow.application.store import EventStore
from nm_workflow.application.store_errors import translated_errors


def note_missing_times(store: EventStore) -> int:
    """Note the time of each stored snapshot's version not noted yet; how many were noted.

    Raises StoreUnavailable or StoreBusy when the database fails (what was noted stays noted).
    """
    noted = store.snapshot_times.noted()
    missing = sorted(set(_snapshot_versions(store)) - noted, key=lambda pair: (str(pair[0]), pair[1]))
    noted_now = 0
    for aggregate_id, version in missing:
        event = store.event_at(aggregate_id, version)
        if event is not None and event.originator_version == version:  # else: a snapshot without its log
            store.snapshot_times.note(aggregate_id, version, event.timestamp)
            noted_now += 1
    return noted_now


def _snapshot_versions(store: EventStore) -> list[tuple[UUID, int]]:
    """(aggregate id, version) of every stored snapshot, from the library's snapshot table."""
    assert store.snapshots is not None  # the store always enables them (ADR 0029)
    recorder: Any = store.snapshots.recorder
    datastore = recorder.datastore
    if isinstance(datastore, PostgresDatastore):
        select = SQL("SELECT originator_id, originator_version FROM {}.{}").format(
            Identifier(datastore.schema), Identifier(recorder.events_table_name)
        )
        with translated_errors(), datastore.cursor() as cursor:
            cursor.execute(select)
            rows = cursor.fetchall()
    else:
        with translated_errors(), datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT originator_id, originator_version FROM {recorder.events_table_name}")  # noqa: S608
            rows = cursor.fetchall()
    return [(UUID(str(row["originator_id"])), int(row["originator_version"])) for row in rows]
