"""The ContentItem aggregate: one piece of content through Ch. 4-5 of the policy.

planned -> drafting -> in_review(the chain of stages the policy in force sets, see
domain/review.py) -> approved -> published; changes requested sends it back to drafting; withdrawn and
cancelled are final. Public methods check the rules, then trigger one event;
the private `@event` methods only record what happened.

Every command checks in one order, so that the first rule broken is the one
reported (docs/errors.md, "Order of checks"): 1. the item is closed; 2. it is
(not) published; 3. its state and review stage; 4. who decides (segregation of
duties); 5. the arguments against the item's data (platform, revision, hash,
times, counters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import event

from nm_workflow.domain.compliance import CHECKED_FIELDS, Finding, Matcher
from nm_workflow.domain.content import (
    ItemState,
    Publication,
    Revision,
    as_utc,
    check_counters,
    check_platforms,
    content_hash,
)
from nm_workflow.domain.errors import (
    AlreadyPublished,
    ConflictingObservation,
    ContentHashMismatch,
    InvalidTransition,
    ItemClosed,
    NoDraft,
    NotApproved,
    NotInReview,
    NotPublished,
    ObservedBeforePublication,
    PlatformNotPlanned,
    PublishedBeforeApproval,
    RepeatedApproval,
    RuleViolation,
    SelfApproval,
    StaleRevision,
    WrongStage,
)
from nm_workflow.domain.metadata import WorkflowAggregate
from nm_workflow.domain.review import (
    ReviewTerms,
    check_acknowledged,
    check_justified,
    next_stage,
    recorded_chain,
)
from nm_workflow.domain.roles import Stage
from nm_workflow.domain.timing import Now


class ContentItem(WorkflowAggregate):
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
        self.state = ItemState.PLANNED
        self.revisions: list[Revision] = []
        self.stage = None
        self.approvals: dict[str, str] = {}
        self.approved_revision: int | None = None
        self.approved_at: datetime | None = None
        self.schedule: dict[str, datetime] = {}
        self.scheduled_revision: int | None = None
        self.publications: dict[str, Publication] = {}
        self.observations: dict[str, dict[str, dict[str, int]]] = {}
        self.corrections: dict[str, dict[str, dict[str, int]]] = {}
        self.closing_reason: str | None = None
        self.review_chain: list[str] = []
        self.review_policy_version: int | None = None
        self.stage_hours: dict[str, int] = {}
        self.justifications: dict[str, str] = {}

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
        self._require_unpublished("draft a new revision")
        text = dict(zip(CHECKED_FIELDS, (title, body, source_notes), strict=True))
        self._drafted(
            revision=len(self.revisions) + 1,
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
        self._require_unpublished("request a review")
        if not self.revisions:
            raise NoDraft("Draft a revision before requesting a review.")
        if self.state is not ItemState.DRAFTING:
            raise InvalidTransition(f"The item is {self.state}; only a draft can be sent to review.")
        number = self._check_revision(revision, None)
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
        self._require_review_at(stage)
        if any(r["author_id"] == reviewer_id for r in self.revisions):
            raise SelfApproval(f"{reviewer_id} authored a revision of this item and may not approve it.")
        if reviewer_id in self.approvals.values():
            raise RepeatedApproval(
                f"{reviewer_id} already approved another stage of revision {self.current_revision['number']}."
            )
        number = self._check_revision(revision, content_hash)
        approved_hash = self.current_revision["content_hash"]
        if stage is Stage.LEGAL:
            check_acknowledged(self.current_revision["findings"], acknowledged_findings)
            self._legally_approved(
                revision=number, content_hash=approved_hash, reviewer_id=reviewer_id,
                acknowledged_findings=list(acknowledged_findings),
            )  # fmt: skip
            return
        if acknowledged_findings:
            raise RuleViolation("Findings are acknowledged by legal, at the legal stage.")
        approved = {
            Stage.EDITOR: self._editorially_approved,
            Stage.DEPARTMENT_HEAD: self._department_head_approved,
            Stage.MANAGEMENT: self._management_approved,
        }[stage]
        approved(revision=number, content_hash=approved_hash, reviewer_id=reviewer_id)

    def request_changes(
        self,
        *,
        stage: Stage,
        revision: int | None,
        reasons: list[str],
        reviewer_id: str,
    ) -> None:
        self._require_review_at(stage)
        number = self._check_revision(revision, None)
        self._changes_requested(
            stage=stage.value, revision=number, reasons=list(reasons), reviewer_id=reviewer_id
        )

    # --- publishing and afterwards --------------------------------------------

    def schedule_publication(self, *, platform: str, at: datetime, now: Now) -> None:
        """Schedule the approved revision on a platform, from now to the planning horizon.

        A new draft voids every schedule, as it voids the approvals.
        """
        self._require_publishable(platform)
        at = as_utc(at, "scheduled time")
        now.check_planned(at, "scheduled time")
        self._scheduled(platform=platform, at=at, revision=self.approved_revision)

    def publish(
        self,
        *,
        platform: str,
        published_at: datetime,
        external_id: str,
        url: str | None,
        revision: int,
        content_hash: str,
        now: Now,
    ) -> None:
        """Ch. 5.4: publish the approved revision, at a time after its approval and not in the future."""
        self._require_publishable(platform)
        published_at = as_utc(published_at, "publication time")
        if revision != self.approved_revision:
            raise StaleRevision(
                f"Only revision {self.approved_revision}, the approved one, may be published."
            )
        if content_hash != self.current_revision["content_hash"]:
            raise ContentHashMismatch("The published content differs from the approved revision.")
        if self.approved_at is not None and published_at < self.approved_at:
            raise PublishedBeforeApproval(
                f"The publication time {published_at.isoformat()} is before revision {revision} was "
                f"approved, at {self.approved_at.isoformat()}."
            )
        now.check_happened(published_at, "publication time")
        self._published(
            platform=platform,
            published_at=published_at,
            external_id=external_id,
            url=url,
            revision=revision,
            content_hash=content_hash,
        )

    def record_metrics(
        self, *, platform: str, observed_at: datetime, counters: dict[str, int], now: Now
    ) -> bool:
        """Record a cumulative observation; False when it was already recorded.

        Allowed after withdrawal too, for a platform the item was published on:
        platforms report late, and the figures describe the time the content was
        live. A counter lower than in the observation before it (by observed_at)
        is accepted as the platform's correction and recorded as such
        (`corrections`: counter -> the earlier total).
        """
        if platform not in self.publications:
            self._require_open()  # a closed item answers item-closed first (the order of checks)
            raise NotPublished(f"The item was never published on {platform}; there is nothing to measure.")
        observed_at = as_utc(observed_at, "observation time")
        published_at = self.publications[platform]["published_at"]
        if observed_at < published_at:
            raise ObservedBeforePublication(
                f"The observation time {observed_at.isoformat()} is before the publication on "
                f"{platform} at {published_at.isoformat()}."
            )
        now.check_happened(observed_at, "observation time")
        check_counters(counters)
        earlier = self.observations.get(platform, {}).get(observed_at.isoformat())
        if earlier == counters:
            return False
        if earlier is not None:
            raise ConflictingObservation(
                f"Other counters were recorded for {platform} at {observed_at.isoformat()}."
            )
        self._metrics_recorded(
            platform=platform,
            observed_at=observed_at,
            counters=dict(counters),
            corrections=self._corrections(platform, observed_at, counters),
        )
        return True

    def withdraw(self, *, reason: str) -> None:
        self._require_open()
        if not self.publications:
            raise NotPublished("Only published content can be withdrawn; cancel it instead.")
        self._withdrawn(reason=reason)

    def cancel(self, *, reason: str) -> None:
        self._require_unpublished("cancel the item (withdraw it instead)")
        self._cancelled(reason=reason)

    @property
    def current_revision(self) -> Revision:
        return self.revisions[-1]

    # State and stage are kept as plain strings so that a snapshot round-trips through JSON.
    @property
    def state(self) -> ItemState:
        return ItemState(self._state)

    @state.setter
    def state(self, value: ItemState) -> None:
        self._state = value.value

    @property
    def stage(self) -> Stage | None:
        return None if self._stage is None else Stage(self._stage)

    @stage.setter
    def stage(self, value: Stage | None) -> None:
        self._stage = None if value is None else value.value

    # --- guards ---------------------------------------------------------------

    def _require_open(self) -> None:
        if self.state.is_final:
            raise ItemClosed(f"The item is {self.state}; no further command applies.")

    def _require_unpublished(self, action: str) -> None:
        self._require_open()
        if self.publications:
            raise AlreadyPublished(f"The item has been published; cannot {action}.")

    def _require_review_at(self, stage: Stage) -> None:
        self._require_open()
        if self.state is not ItemState.IN_REVIEW:
            raise NotInReview(f"The item is {self.state}, not in review.")
        if stage is not self.stage:
            raise WrongStage(f"The review is at the {self.stage} stage, not {stage}.")

    def _require_publishable(self, platform: str) -> None:
        self._require_open()
        if self.approved_revision is None:
            raise NotApproved(f"The item is {self.state}; it must pass all its reviews first.")
        if platform not in self.platforms:
            raise PlatformNotPlanned(f"{platform} is not a planned platform ({', '.join(self.platforms)}).")
        if platform in self.publications:
            raise AlreadyPublished(f"The item is already published on {platform}.")

    def _corrections(self, platform: str, observed_at: datetime, counters: dict[str, int]) -> dict[str, int]:
        """Counters lower than their total in the latest earlier observation: counter -> that total."""
        earlier: dict[str, int] = {}
        for moment, reported in sorted(self.observations.get(platform, {}).items()):
            if datetime.fromisoformat(moment) < observed_at:
                earlier |= reported
        return {
            name: earlier[name] for name, value in sorted(counters.items()) if value < earlier.get(name, 0)
        }

    def _check_revision(self, revision: int | None, expected_hash: str | None) -> int:
        current = self.current_revision
        if revision is not None and revision != current["number"]:
            raise StaleRevision(f"Revision {revision} is not the current revision {current['number']}.")
        if expected_hash is not None and expected_hash != current["content_hash"]:
            raise ContentHashMismatch(f"Revision {current['number']} has another content hash.")
        return current["number"]

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
        self.revisions.append(
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
        self._void_review(ItemState.DRAFTING)
        # A schedule, like an approval, was made for the revision before.
        self.schedule, self.scheduled_revision = {}, None
        self.justifications = {}

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

    def _approved(self, stage: Stage, reviewer_id: str, timestamp: datetime | None) -> None:
        self.approvals[stage.value] = reviewer_id
        self.stage = next_stage(self.review_chain, stage)
        if self.stage is None:
            self.state, self.approved_revision = ItemState.APPROVED, self.current_revision["number"]
            self.approved_at = timestamp  # the event's own time: when the last stage approved

    def _void_review(self, state: ItemState) -> None:
        self.state, self.stage, self.approvals, self.approved_revision = state, None, {}, None
