"""policy_versions, compliance_checks, compliance_findings; review_queue's deadlines per policy version."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from nm_workflow.application.commands import CommandContext
from nm_workflow.application.items import ContentItems
from nm_workflow.application.policies import Policies
from nm_workflow.application.policy_book import seed_rules
from nm_workflow.application.security import Actor
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role, Stage
from projections import ReadModel, rebuild
from projections.sql import Tx
from tests.projections.conftest import SupervisorFactory
from tests.projections.scenario import snapshot

MARKETER = Actor("marketer-1", frozenset({Role.MARKETING}), "product")
LEGAL = Actor("legal-1", frozenset({Role.LEGAL}), "legal")
BOSS = Actor("boss", frozenset({Role.MANAGEMENT}), "management")
DEPARTMENTS = ("marketing", "customer_service", "legal", "data_analysis")
PLAN = {
    "theme": "Spring", "format": "article", "target_audience": "customers", "expected_effect": "awareness",
    "platforms": ["wechat"], "campaign": None, "planned_publish_date": None,
}  # fmt: skip
NEW_TERMS = {"editor": 5, "department_head": 7, "legal": 9, "management": 11}
TABLES = ["policy_versions", "compliance_findings", "review_queue"]


def ctx(actor: Actor) -> CommandContext:
    return CommandContext(actor=actor)


def allowed(tx: Tx, wait: dict[str, Any]) -> timedelta:
    """How long a wait at a stage may last: due_by - waiting_since."""
    due_by, since = tx.dialect.time_out(wait["due_by"]), tx.dialect.time_out(wait["waiting_since"])
    assert due_by is not None
    assert since is not None
    return due_by - since


def adopt_version_2(store: EventStore) -> None:
    policies = Policies(store)
    rules: dict[str, Any] = copy.deepcopy(seed_rules(48)) | {"stage_hours": NEW_TERMS}
    policies.propose(ctx(MARKETER), rules, "Shorter deadlines")
    for department in DEPARTMENTS:
        head = Actor(f"head-{department}", frozenset({Role.DEPARTMENT_HEAD}), department)
        policies.review(ctx(head), 2, department != "legal", [] if department != "legal" else ["too short"])
    legal_head = Actor("head-legal", frozenset({Role.DEPARTMENT_HEAD}), "legal")
    policies.review(ctx(legal_head), 2, True, [])
    policies.approve(ctx(BOSS), 2, None)


def test_policy_versions_hold_each_version_with_its_reviews_and_time_in_force(
    store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    adopt_version_2(store)
    assert start_supervisor(["policy_versions"]).wait_for(store.head(), ["policy_versions"], timeout=30)
    with read_model.db.read(read_model.projections["policy_versions"].live_tables()) as tx:
        rows = [read_model.projections["policy_versions"].schema[0].decode(tx.dialect, r)
                for r in tx.all("SELECT * FROM {policy_versions} ORDER BY version")]  # fmt: skip
    seed, second = rows
    assert (seed["status"], seed["proposed_by"], seed["approved_by"]) == ("seed", None, None)
    assert seed["effective_to"] == second["effective_from"] is not None
    assert (second["status"], second["proposed_by"], second["approved_by"]) == (
        "approved",
        "marketer-1",
        "boss",
    )
    assert second["effective_to"] is None
    assert second["required_departments"] == list(DEPARTMENTS)
    decisions = {r["department"]: (r["decision"], r["reviewer_id"]) for r in second["reviews"]}
    assert decisions["legal"] == ("approved", "head-legal")  # the later review replaced the objection
    assert len(decisions) == 4
    assert second["rules"]["stage_hours"] == NEW_TERMS


def test_compliance_findings_bind_to_revision_hash_and_policy_and_record_the_answers(
    store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    items = ContentItems(store)
    item = items.plan(ctx(MARKETER), PLAN).aggregate_id
    draft = {"title": "第一", "body": "最 佳，保本", "asset_links": [], "source_notes": "n"}
    drafted = items.draft(ctx(MARKETER), item, draft)
    items.draft(ctx(MARKETER), item, draft | {"title": "clean", "body": "clean"})
    revision_1_hash = drafted.view["current_revision"]["content_hash"]
    assert start_supervisor(["compliance_findings"]).wait_for(
        store.head(), ["compliance_findings"], timeout=30
    )
    projection = read_model.projections["compliance_findings"]
    with read_model.db.read(projection.live_tables()) as tx:
        checks = tx.all("SELECT revision, findings, blocking_findings, department FROM {compliance_checks} "
                        "ORDER BY revision")  # fmt: skip
        findings = tx.all(
            "SELECT finding_id, revision, content_hash, policy_version, field, term, severity, start_offset, "
            "end_offset, matched FROM {compliance_findings} ORDER BY finding_id"
        )
    assert [tuple(c.values()) for c in checks] == [(1, 3, 2, "product"), (2, 0, 0, "product")]
    assert [(f["finding_id"], f["field"], f["term"], f["severity"], f["start_offset"], f["end_offset"],
             f["matched"]) for f in findings] == [
        ("f1", "title", "第一", "block", 0, 2, "第一"),
        ("f2", "body", "最佳", "block", 0, 3, "最 佳"),
        ("f3", "body", "保本", "warn", 4, 6, "保本"),
    ]  # fmt: skip
    assert {(f["revision"], f["content_hash"], f["policy_version"]) for f in findings} == {
        (1, revision_1_hash, 1)
    }


def test_justifications_acknowledgements_and_deadlines_of_the_version_in_force(
    store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    items = ContentItems(store)
    before = items.plan(ctx(MARKETER), PLAN).aggregate_id
    items.draft(ctx(MARKETER), before, {"title": "t", "body": "最佳", "asset_links": [], "source_notes": "n"})
    items.request_review(ctx(MARKETER), before, None, {"f1": "The award's name"})
    adopt_version_2(store)
    after = items.plan(ctx(MARKETER), PLAN).aggregate_id
    items.draft(ctx(MARKETER), after, {"title": "t", "body": "b", "asset_links": [], "source_notes": "n"})
    items.request_review(ctx(MARKETER), after, None)
    editor = Actor("editor-1", frozenset({Role.EDITOR}), "editorial")
    head = Actor("head-1", frozenset({Role.DEPARTMENT_HEAD}), "product")
    items.approve(ctx(editor), before, Stage.EDITOR, {"revision": None, "content_hash": None})
    items.approve(ctx(head), before, Stage.DEPARTMENT_HEAD, {"revision": None, "content_hash": None})
    ack: dict[str, Any] = {"revision": None, "content_hash": None, "acknowledged_findings": ["f1"]}
    items.approve(ctx(LEGAL), before, Stage.LEGAL, ack)
    supervisor = start_supervisor()
    assert supervisor.wait_for(store.head(), timeout=30)

    with read_model.db.read({"compliance_findings": "compliance_findings", "review_queue": "review_queue",
                             "review_history": "review_history"}) as tx:  # fmt: skip
        (finding,) = tx.all("SELECT * FROM {compliance_findings}")
        (waiting,) = tx.all("SELECT * FROM {review_queue}")
        history = tx.all("SELECT stage, waiting_since, due_by FROM {review_history} ORDER BY position")
        times = [(h["stage"], allowed(tx, h)) for h in history]
        due = allowed(tx, waiting)
    assert (finding["justification"], finding["justified_by"]) == ("The award's name", "marketer-1")
    assert (finding["acknowledged_by"], finding["acknowledged_at"] is not None) == ("legal-1", True)
    # Requested under version 1: 48 h a stage (the seed's, from NM_REVIEW_STAGE_HOURS), after version 2 too.
    assert times == [(s, timedelta(hours=48)) for s in ("editor", "department_head", "legal")]
    assert (waiting["item_id"] in (after, str(after)), waiting["stage"], due) == (
        True,
        "editor",
        timedelta(hours=5),
    )

    incremental = snapshot(read_model, TABLES)
    for name in TABLES:
        rebuild(read_model, name)
    assert snapshot(read_model, TABLES) == incremental


def test_item_status_follows_each_items_own_chain(
    store: EventStore, read_model: ReadModel, start_supervisor: SupervisorFactory
) -> None:
    policies = Policies(store)
    chains = {"default": ["editor", "department_head", "legal", "management"],
              "formats": {"poster": ["editor", "legal"]}, "platforms": {}}  # fmt: skip
    rules: dict[str, Any] = copy.deepcopy(seed_rules(48)) | {
        "review_chains": chains,
        "stage_hours": NEW_TERMS,
    }
    policies.propose(ctx(MARKETER), rules, "Posters skip the department head; articles need management")
    for department in DEPARTMENTS:
        head = Actor(f"head-{department}", frozenset({Role.DEPARTMENT_HEAD}), department)
        policies.review(ctx(head), 2, True, [])
    policies.approve(ctx(BOSS), 2, None)
    items = ContentItems(store)
    reviewers = {
        Stage.EDITOR: Actor("editor-1", frozenset({Role.EDITOR}), "editorial"),
        Stage.DEPARTMENT_HEAD: Actor("head-1", frozenset({Role.DEPARTMENT_HEAD}), "product"),
        Stage.LEGAL: LEGAL,
        Stage.MANAGEMENT: BOSS,
    }
    stages_seen: dict[str, list[str | None]] = {}
    supervisor = start_supervisor(["item_status"])
    for format_, chain in (("poster", [Stage.EDITOR, Stage.LEGAL]), ("article", list(reviewers))):
        item = items.plan(ctx(MARKETER), PLAN | {"format": format_}).aggregate_id
        items.draft(ctx(MARKETER), item, {"title": "t", "body": "b", "asset_links": [], "source_notes": "n"})
        items.request_review(ctx(MARKETER), item, None)
        seen: list[str | None] = []
        for stage in chain:
            assert supervisor.wait_for(store.head(), ["item_status"], timeout=30)
            with read_model.db.read({"item_status": "item_status"}) as tx:
                row = tx.one("SELECT review_stage FROM {item_status} WHERE item_id = :id", {"id": item})
            assert row is not None
            seen.append(row["review_stage"])
            items.approve(ctx(reviewers[stage]), item, stage, {"revision": None, "content_hash": None})
        assert supervisor.wait_for(store.head(), ["item_status"], timeout=30)
        with read_model.db.read({"item_status": "item_status"}) as tx:
            final = tx.one(
                "SELECT state, approved_revision FROM {item_status} WHERE item_id = :id", {"id": item}
            )
        assert final == {"state": "approved", "approved_revision": 1}
        stages_seen[format_] = seen
    assert stages_seen == {
        "poster": ["editor", "legal"],
        "article": ["editor", "department_head", "legal", "management"],
    }
