"""Rebuilding `quarterly_evaluation` for a demo quarter, against reading the same events raw.

The log is a demo quarter (`nm-workflow demo`'s driver, through the application's
commands). Baseline: reading and decoding every event of the log in batches.
Cases: rebuilding the `quarterly_evaluation` projection (folds item facts, writes
them, recomputes each touched row once per batch), and the in-memory
computation a sign-off and `reports reproduce` do (fold the log, compute the
quarter's rows). Rates are events of the whole log per second.

    python -m bench.evaluations [--items 10000] [--database-url postgresql://...]
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from bench.projections import _read_everything, _seconds
from bench.report import main
from nm_workflow.application.demo import DemoQuarter
from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.security import Actor
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.periods import previous_quarter
from nm_workflow.domain.roles import Role
from projections import ReadModel, rebuild
from projections.readside import EventSource

AUDITOR = Actor("bench", frozenset({Role.AUDITOR}), "audit")


def run(settings: Settings, items: int) -> dict[str, float]:
    """Events per second of each case; 'baseline' first."""
    store = EventStore(settings)
    read_model = ReadModel(settings, store)
    try:
        now = datetime.now(UTC)
        label = previous_quarter(now, DemoQuarter.zone_of(settings))
        demo = DemoQuarter(store, settings, label, seed=1, now=now)
        evaluation_id = demo.run(items).evaluation_id
        head = store.head()
        evaluations = Evaluations(store, settings)
        source = EventSource(store)
        return {
            "baseline: read and decode the log": head
            / _seconds(lambda: _read_everything(source, head, settings.projection_batch_size)),
            "rebuild quarterly_evaluation": head
            / _seconds(partial(rebuild, read_model, "quarterly_evaluation")),
            "reports reproduce (fold the log, compute the quarter)": head
            / _seconds(partial(evaluations.reproduce, AUDITOR, evaluation_id)),
        }
    finally:
        read_model.close()
        store.close()


if __name__ == "__main__":
    main(__doc__, ("items", 10_000, "content items of the demo quarter"), run, "events/s")
