"""The ContentItem aggregate: one piece of content through Ch. 4-5 of the policy.

planned -> drafting -> in_review(the chain of stages the policy in force sets, see
domain/review.py) -> approved -> published; changes requested sends it back to drafting; withdrawn and
cancelled are final. Public methods check the rules, then trigger one event;
the private `@event` methods only record what happened.

The rules live beside it, by concern, as functions that change nothing: the
order of checks on the item (domain/item_guards.py), review and compliance
(domain/review.py), publication (domain/publication.py), metrics
(domain/observations.py). Two bases hold the rest by concern: `ItemPublishing`
(domain/item_publishing.py) the commands that schedule, publish and measure, and
`ItemProgress` (domain/item_state.py) the state the events leave and how a snapshot keeps it.
Every `@event` method stays on this class: stored events name it in their topics
(`nm_workflow.domain.content_item:ContentItem.Drafted`; tests/integration/test_stored_item_events.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import event

from nm_workflow.domain import item_guards
from nm_workflow.domain.compliance import CHECKED_FIELDS, Finding, Matcher
from nm_workflow.domain.content import ItemState, Publication, Revision, check_platforms, content_hash
from nm_workflow.domain.item_publishing import ItemPublishing
from nm_workflow.domain.item_state import ItemProgress
from nm_workflow.domain.metadata import WorkflowAggregate
from nm_workflow.domain.review import (
    ReviewTerms,
    check_acknowledgement,
    check_justified,
    recorded_chain,
)
from nm_workflow.domain.roles import Stage
from nm_workflow.domain.timing import Now


class ContentItem(ItemPublishing, ItemProgress, WorkflowAggregate):
    class_version = 2
    """Of the state (snapshots): 2 keeps the current revision and the authors, 1 kept every revision."""

    @event("Planned")
    def __init__(
        self,
        *,
        theme: str,
        format: str,
        target_audience: str,
        expected_effect: str,
        platforms: list[str],
        department: str,
        campaign: str | None,
        planned_publish_date: date | None,
        planner_id: str,
    ) -> None:
        self.theme, self.format, self.target_audience = theme, format, target_audience
        self.expected_effect, self.platforms = expected_effect, list(platforms)
        self.department, self.campaign = department, campaign
        self.planned_publish_date, self.planner_id = planned_publish_date, planner_id
        self._start()

    @classmethod
    def plan(cls, *, now: Now, **plan: Any) -> ContentItem:
        """Ch. 5.1: a plan states theme, format, audience, effect and platforms.

        A planned publication date lies from today to the planning horizon
        (OutsidePlanningHorizon).
        """
        check_platforms(plan["platforms"])
        if plan.get("planned_publish_date") is not None:
            now.check_planned_date(plan["planned_publish_date"], "planned publication date")
        return cls(**{**plan, "platforms": list(plan["platforms"])})

    # --- creation and review -------------------------------------------------

    def draft(
        self,
        *,
        title: str,
        body: str,
        asset_links: list[str],
        source_notes: str,
        author_id: str,
        lexicon: Matcher | None = None,
    ) -> None:
        """A new revision, checked against `lexicon` (the policy in force's; None: not checked)."""
        item_guards.require_unpublished(self, "draft a new revision")
        text = dict(zip(CHECKED_FIELDS, (title, body, source_notes), strict=True))
        self._drafted(
            revision=self.revision_count + 1,
            title=title,
            body=body,
            asset_links=list(asset_links),
            source_notes=source_notes,
            content_hash=content_hash(title, body, list(asset_links), source_notes),
            author_id=author_id,
            findings=[] if lexicon is None else lexicon.check(text),
            lexicon_version=None if lexicon is None else lexicon.version,
        )

    def request_review(
        self,
        *,
        revision: int | None,
        terms: ReviewTerms | None = None,
        justifications: Mapping[str, str] | None = None,
    ) -> None:
        """Send the current revision to review under `terms` (the policy in force's)."""
        item_guards.require_draft(self)
        number = item_guards.check_revision(self, revision, None)
        check_justified(self.current_revision["findings"], justifications or {})
        terms = terms or ReviewTerms()
        chain = terms.chain_for(self.format, self.platforms)
        self._review_requested(
            revision=number,
            stage=chain[0],
            chain=[s.value for s in chain],
            stage_hours={s.value: terms.stage_hours[s.value] for s in chain},
            policy_version=terms.policy_version,
            justifications=dict(justifications or {}),
        )

    def approve(
        self,
        *,
        stage: Stage,
        revision: int | None,
        content_hash: str | None,
        reviewer_id: str,
        acknowledged_findings: Sequence[str] = (),
    ) -> None:
        """Approve at the current stage; legal acknowledges every finding of the revision by id."""
        item_guards.require_review_at(self, stage)
        item_guards.check_reviewer(self, reviewer_id)
        number = item_guards.check_revision(self, revision, content_hash)
        check_acknowledgement(stage, self.current_revision["findings"], acknowledged_findings)
        approved_hash = self.current_revision["content_hash"]
        if stage is Stage.LEGAL:
            self._legally_approved(
                revision=number, content_hash=approved_hash, reviewer_id=reviewer_id,
                acknowledged_findings=list(acknowledged_findings),
            )  # fmt: skip
            return
        approved = {
            Stage.EDITOR: self._editorially_approved,
            Stage.DEPARTMENT_HEAD: self._department_head_approved,
            Stage.MANAGEMENT: self._management_approved,
        }[stage]
        approved(revision=number, content_hash=approved_hash, reviewer_id=reviewer_id)

    def request_changes(
        self, *, stage: Stage, revision: int | None, reasons: list[str], reviewer_id: str
    ) -> None:
        item_guards.require_review_at(self, stage)
        number = item_guards.check_revision(self, revision, None)
        self._changes_requested(
            stage=stage.value, revision=number, reasons=list(reasons), reviewer_id=reviewer_id
        )

    # --- closing (schedule, publication and metrics: ItemPublishing) -------------

    def withdraw(self, *, reason: str) -> None:
        item_guards.require_withdrawable(self)
        self._withdrawn(reason=reason)

    def cancel(self, *, reason: str) -> None:
        item_guards.require_unpublished(self, "cancel the item (withdraw it instead)")
        self._cancelled(reason=reason)

    # --- events ---------------------------------------------------------------

    @event("Drafted")
    def _drafted(
        self,
        revision: int,
        title: str,
        body: str,
        asset_links: list[str],
        source_notes: str,
        content_hash: str,
        author_id: str,
        findings: list[Finding] | None = None,
        lexicon_version: int | None = None,
    ) -> None:
        self._revised(
            Revision(
                number=revision,
                title=title,
                body=body,
                asset_links=list(asset_links),
                source_notes=source_notes,
                content_hash=content_hash,
                author_id=author_id,
                findings=list(findings or []),
                lexicon_version=lexicon_version,
            )
        )

    @event("ReviewRequested")
    def _review_requested(
        self,
        revision: int,
        stage: str,
        chain: list[str] | None = None,
        stage_hours: dict[str, int] | None = None,
        policy_version: int | None = None,
        justifications: dict[str, str] | None = None,
    ) -> None:
        self.state, self.stage = ItemState.IN_REVIEW, Stage(stage)
        self.review_chain = recorded_chain(chain)
        self.stage_hours, self.review_policy_version = dict(stage_hours or {}), policy_version
        self.justifications = dict(justifications or {})

    @event("EditoriallyApproved")
    def _editorially_approved(
        self, revision: int, content_hash: str, reviewer_id: str, timestamp: datetime | None = None
    ) -> None:
        self._approved(Stage.EDITOR, reviewer_id, timestamp)

    @event("DepartmentHeadApproved")
    def _department_head_approved(
        self, revision: int, content_hash: str, reviewer_id: str, timestamp: datetime | None = None
    ) -> None:
        self._approved(Stage.DEPARTMENT_HEAD, reviewer_id, timestamp)

    @event("LegallyApproved")
    def _legally_approved(
        self,
        revision: int,
        content_hash: str,
        reviewer_id: str,
        acknowledged_findings: list[str] | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        self._approved(Stage.LEGAL, reviewer_id, timestamp)

    @event("ManagementApproved")
    def _management_approved(
        self, revision: int, content_hash: str, reviewer_id: str, timestamp: datetime | None = None
    ) -> None:
        self._approved(Stage.MANAGEMENT, reviewer_id, timestamp)

    @event("ChangesRequested")
    def _changes_requested(self, stage: str, revision: int, reasons: list[str], reviewer_id: str) -> None:
        self._void_review(ItemState.DRAFTING)

    @event("Scheduled")
    def _scheduled(self, platform: str, at: datetime, revision: int | None = None) -> None:
        # Schedules recorded before they named their revision were made for the approved one.
        self.schedule[platform] = at
        self.scheduled_revision = self.approved_revision if revision is None else revision

    @event("Published")
    def _published(
        self,
        platform: str,
        published_at: datetime,
        external_id: str,
        url: str | None,
        revision: int,
        content_hash: str,
    ) -> None:
        self.publications[platform] = Publication(
            platform=platform,
            published_at=published_at,
            external_id=external_id,
            url=url,
            revision=revision,
            content_hash=content_hash,
        )
        self.state = ItemState.PUBLISHED

    @event("MetricsRecorded")
    def _metrics_recorded(
        self,
        platform: str,
        observed_at: datetime,
        counters: dict[str, int],
        corrections: dict[str, int] | None = None,
    ) -> None:
        self.observations.setdefault(platform, {})[observed_at.isoformat()] = dict(counters)
        if corrections:  # None in observations recorded before corrections were
            self.corrections.setdefault(platform, {})[observed_at.isoformat()] = dict(corrections)

    @event("Withdrawn")
    def _withdrawn(self, reason: str) -> None:
        self.state, self.closing_reason = ItemState.WITHDRAWN, reason

    @event("Cancelled")
    def _cancelled(self, reason: str) -> None:
        self.state, self.stage, self.closing_reason = ItemState.CANCELLED, None, reason
