"""On SQLite, a shared batch worked out before the write turn, and only written under it (ADR 0086).

SQLite has one writer at a time, and a command's commit waits for the file's write turn while
the projections hold it (ADR 0041, 0080). Most of what a batch did under the turn was not
writing: its handlers' Python work and its reads of the rows it changes. Here each projection
moving in a batch is applied first in a read transaction, one snapshot for all of them, with its
writes kept instead of run (`Plan`): the statements, their values already converted. Under the
turn, the batch then moves each tracking row as before and runs the kept statements.

A plan is used only where nothing could have changed what it read:

- the snapshot's tracking row is at the position the batch starts from, and the write
  transaction's move of the row answers the snapshot's generation. A projection's rows and its
  tracking row commit together (batches.py), positions only grow, and a rebuild's swap starts a
  new generation (tracking.py); so the tables the write finds are the tables the plan read;
- the projection read no table after writing it: such a read would have seen the batch's own
  earlier writes (a handler that reads the row the event before changed, with a statement of its
  own), and raises `NeedsTheTurn` in the plan. A read names its tables as `{table}`, a write as
  the statement runs them; a read naming none is taken to read every table. The tables
  projections/rows.py keeps for a batch are read before any write, and written after the last
  event, so their projections plan;
- a projection reads only its own tables (base.py), so one projection's plan cannot miss
  another's writes of the same batch.

Anything else, a projection failing while planned included, is applied under the turn as before
ADR 0086: it fails there as it did, and the runner's fallbacks are unchanged. Rows a projection
keeps between batches (between.py) follow: a plan's batch begins with the snapshot's generation,
which the write then confirms, or the projection is applied under the turn and begins again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from nm_workflow.application.metrics import PROJECTION_PLANS
from nm_workflow.application.store import APPLICATION_NAME
from projections.base import Recorded
from projections.database import Database
from projections.sql import Row, Tx

if TYPE_CHECKING:
    from projections.batches import Builder

log = logging.getLogger("projections")


class NeedsTheTurn(Exception):
    """A projection being planned read after writing: its batch is applied under the write turn."""


@dataclass
class Plan:
    """One projection's share of a batch: its statements, to run under the turn."""

    generation: int
    """The tracking row's generation the plan read its tables in."""
    applied: int = 0
    """The number of events the plan applied (`Builder.apply`'s answer)."""
    statements: list[tuple[str, bool, Any]] = field(default_factory=list)
    """(statement, whether `executemany`, values), in the order the projection wrote them."""

    def run(self, tx: Tx) -> None:
        """Run the statements in `tx`, the batch's write transaction (SQLite)."""
        cursor = tx.raw
        for statement, many, values in self.statements:
            if many:
                cursor.executemany(statement, values)
            else:
                cursor.execute(statement, values)


class _Kept:
    """A planning transaction's cursor for writes (`Tx.raw`): each statement kept, not run, and
    the tables it names (of `names`, the transaction's) noted."""

    def __init__(self, plan: Plan, names: frozenset[str]) -> None:
        self.statements, self._names = plan.statements, names
        self.written: set[str] = set()

    def execute(self, statement: str, values: Any = ()) -> None:
        self.written |= _named(statement, self._names)
        self.statements.append((statement, False, values))

    def executemany(self, statement: str, values: Any) -> None:
        self.written |= _named(statement, self._names)
        self.statements.append((statement, True, list(values)))


class _Planning(Tx):
    """A transaction that reads from a snapshot and keeps its writes (SQLite's in-process Tx)."""

    def __init__(self, reader: Tx, plan: Plan) -> None:
        self._kept = _Kept(plan, frozenset(reader.tables.values()))
        super().__init__(self._kept, reader.dialect, reader.tables)
        self._reader = reader

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        self._reading(sql)
        return self._reader.one(sql, params)

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        self._reading(sql)
        return self._reader.all(sql, params)

    def own_cursor(self) -> Tx:
        return self

    def _reading(self, sql: str) -> None:
        written = self._kept.written
        if not written:
            return
        placeholders = _PLACEHOLDER.findall(sql)
        if not placeholders or any(self.tables.get(p, p) in written for p in placeholders):
            raise NeedsTheTurn


def plans(db: Database, moving: Sequence[Builder], batch: Sequence[Recorded], target: int) -> dict[str, Plan]:
    """The plans of `moving`'s projections for `batch` up to `target`, by projection name; those
    that cannot be planned (see the module) are left out, to be applied under the turn. Each one
    left out is counted in `nm_projection_plans_total` with why; a plan run, or refused when the
    batch is written, is counted then (`tally`)."""
    made: dict[str, Plan] = {}
    try:
        with db.read({t: t for b in moving for t in b.projection.live_tables()}) as reader:
            for builder in moving:
                outcome = _plan(reader, builder, batch, target, made)
                if outcome is not None:
                    tally(builder.name, outcome)
    except Exception:  # a shortcut only: without it, each is applied under the turn, as before
        log.warning("Could not work out a batch before the write turn; applied under it", exc_info=True)
        for builder in moving:
            tally(builder.name, UNAVAILABLE)
        return {}
    return made


def tally(name: str, outcome: str) -> None:
    """Count what became of projection `name`'s share of a batch (`nm_projection_plans_total`)."""
    PROJECTION_PLANS.labels(name, outcome).inc()


PLANNED, REPLACED = "planned", "replaced"
"""The outcomes counted when the batch is written: run from its plan; applied under the turn as
its tables were replaced (a rebuild's swap) since the plan read them."""
READS_ITS_WRITES, FAILED, MOVED, UNAVAILABLE = "reads_its_writes", "failed", "moved", "unavailable"
"""The outcomes counted by `plans`: a read of a table it had written; its handlers raised; its
tracking elsewhere than the batch's start; no snapshot to plan in (the database's error)."""


def _plan(
    reader: Tx, builder: Builder, batch: Sequence[Recorded], target: int, made: dict[str, Plan]
) -> str | None:
    """Plan `builder`'s share into `made`: None, or the outcome to count when it is left out."""
    found = reader.one(_tracking_statement(builder.recorder.tracking_table_name), _APPLICATION)
    if found is None or int(found["notification_id"]) != builder.position:
        return MOVED  # the write's move of the row finds it so, and rolls the batch back
    plan = Plan(int(found["generation"]))
    answer = partial(int, plan.generation)  # what the write's move of the row must answer
    try:
        plan.applied = builder.apply(_Planning(reader, plan), batch, target, answer)
    except NeedsTheTurn:
        return READS_ITS_WRITES
    except Exception:  # applied again under the turn: raised there, it is the batch's failure
        log.debug("%s: could not plan a batch", builder.name, exc_info=True)
        return FAILED
    made[builder.name] = plan
    return None


_APPLICATION = {"application_name": APPLICATION_NAME}
_PLACEHOLDER = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")
"""A table named in a projection's statement, as `Tx.execute` fills it in (`{{` is a brace)."""


@lru_cache(maxsize=1024)
def _named(statement: str, names: frozenset[str]) -> frozenset[str]:
    """Which of `names` the statement, as run, names: every one when it names none of them."""
    found = frozenset(n for n in names if re.search(rf"\b{re.escape(n)}\b", statement))
    return found or names


@lru_cache(maxsize=64)
def _tracking_statement(table: str) -> str:
    return f"SELECT notification_id, generation FROM {table} WHERE application_name = :application_name"  # noqa: S608
