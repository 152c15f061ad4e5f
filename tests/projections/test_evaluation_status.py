"""evaluation_status counts what each evaluation's events say, whatever the batches, and rebuilds the same."""

from __future__ import annotations

from datetime import date

from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from projections import ReadModel, rebuild
from projections.evaluation_status import read_queue
from tests.projections.conftest import SupervisorFactory
from tests.projections.quarter_scenario import who
from tests.projections.scenario import snapshot

OLGA, SAM = who("olga", Role.MANAGEMENT, "board"), who("sam", Role.MANAGEMENT, "board")
FINDING = {"text": "互动率下降", "severity": "high", "figures": ["interaction_rate"]}
RECOMMENDATION = {"text": "Answer within 2 hours", "owner_department": "customer_service",
                  "due_date": date(2026, 12, 31), "finding": 1}  # fmt: skip


def test_counts_sign_offs_and_closures_follow_the_events_across_batches_and_rebuild_the_same(
    store: EventStore, settings: Settings, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    evaluations = Evaluations(store, settings)
    ids = []
    for quarter in ("2026Q1", "2026Q2"):
        opened = evaluations.open(OLGA, {"kind": "quarterly_evaluation", "quarter": quarter})
        ids.append(opened.aggregate_id)
        evaluations.record_findings(OLGA, ids[-1], FINDING)
        evaluations.make_recommendation(OLGA, ids[-1], RECOMMENDATION)
        evaluations.make_recommendation(OLGA, ids[-1], RECOMMENDATION)
    first, second = ids
    evaluations.sign_off(SAM, first)
    evaluations.close_recommendation(OLGA, first, 2, {"outcome": "done", "policy_proposal_id": None,
                                                      "feedback_id": "f-1"})  # fmt: skip
    # Batches of 2 events: an evaluation's rows are changed by later batches than the one that made them.
    supervisor = start_supervisor(["evaluation_status"], projection_batch_size=2)
    assert supervisor.wait_for(store.head(), ["evaluation_status"], timeout=60)

    queue = read_queue(read_model)
    assert [e["evaluation_id"] for e in queue["evaluations"]] == [second]
    counts = {k: queue["evaluations"][0][k] for k in ("findings", "recommendations", "recommendations_open")}
    assert counts == {"findings": 1, "recommendations": 2, "recommendations_open": 2}
    assert [(r["evaluation_id"], r["number"]) for r in queue["recommendations"]] == sorted(
        [(first, 1), (second, 1), (second, 2)], key=lambda key: (str(key[0]), key[1])
    )
    incremental = snapshot(read_model, ["evaluation_status"])
    signed = next(dict(row) for row in incremental["evaluation_status"] if dict(row)["evaluation_id"]
                  in (first, str(first)))  # fmt: skip
    assert (signed["signed_off_by"], signed["recommendations_open"]) == ("sam", 1)
    closed = [dict(row) for row in incremental["evaluation_recommendations"] if dict(row)["closed_at"]]
    assert [(r["number"], r["outcome"], r["feedback_id"]) for r in closed] == [(2, "done", "f-1")]

    rebuild(read_model, "evaluation_status")
    assert snapshot(read_model, ["evaluation_status"]) == incremental
