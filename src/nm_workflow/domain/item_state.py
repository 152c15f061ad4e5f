"""What a content item keeps of its events: where it stands, as its rules and its views read it.

The ContentItem aggregate (domain/content_item.py) records the events; `ItemProgress`, its base,
holds the state those events leave and the changes more than one event makes to it. Nothing here
triggers an event or checks a rule.

The item keeps of its revisions only what the rules and its view read (ADR 0039): the current
revision, and the sorted distinct authors of every revision (segregation of duties). Every
revision stays in the events (`Drafted`), where history and `?version=` read it; so the state,
and a snapshot of it, does not grow with the number of drafts. State and stage are kept as plain
strings so that a snapshot round-trips through JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nm_workflow.domain.content import ItemState, Publication, Revision
from nm_workflow.domain.errors import NoDraft
from nm_workflow.domain.review import next_stage
from nm_workflow.domain.roles import Stage

# The members by value, looked up by the two properties below: the rules and the view read them
# several times per command, and calling an Enum class to look one up costs several times more.
_STATES = {state.value: state for state in ItemState}
_STAGES = {stage.value: stage for stage in Stage}


class ItemProgress:
    """The state of a content item beyond its plan: revision, review, schedule, publications, metrics."""

    def _start(self) -> None:
        """An item just planned: nothing drafted, reviewed, scheduled, published or measured yet."""
        self.state = ItemState.PLANNED
        self._current_revision: Revision | None = None
        self.revision_authors: list[str] = []
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

    @property
    def current_revision(self) -> Revision:
        """The latest revision drafted; NoDraft before the first."""
        if self._current_revision is None:
            raise NoDraft("No revision has been drafted yet.")
        return self._current_revision

    @property
    def revision_count(self) -> int:
        """How many revisions were drafted: the current revision's number, 0 before the first."""
        return 0 if self._current_revision is None else self._current_revision["number"]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot of class version 1 kept every revision: keep the last, and their authors."""
        revisions: list[Revision] = state.pop("revisions")
        state["_current_revision"] = revisions[-1] if revisions else None
        state["revision_authors"] = sorted({r["author_id"] for r in revisions})

    @property
    def state(self) -> ItemState:
        return _STATES[self._state]

    @state.setter
    def state(self, value: ItemState) -> None:
        self._state = value.value

    @property
    def stage(self) -> Stage | None:
        return None if self._stage is None else _STAGES[self._stage]

    @stage.setter
    def stage(self, value: Stage | None) -> None:
        self._stage = None if value is None else value.value

    def _revised(self, revision: Revision) -> None:
        """A new current revision: it voids the review, the approvals and the schedules of the one before."""
        self._current_revision = revision
        if revision["author_id"] not in self.revision_authors:
            self.revision_authors = sorted([*self.revision_authors, revision["author_id"]])
        self._void_review(ItemState.DRAFTING)
        # A schedule, like an approval, was made for the revision before.
        self.schedule, self.scheduled_revision = {}, None
        self.justifications = {}

    def _approved(self, stage: Stage, reviewer_id: str, timestamp: datetime | None) -> None:
        self.approvals[stage.value] = reviewer_id
        self.stage = next_stage(self.review_chain, stage)
        if self.stage is None:
            self.state, self.approved_revision = ItemState.APPROVED, self.current_revision["number"]
            self.approved_at = timestamp  # the event's own time: when the last stage approved

    def _void_review(self, state: ItemState) -> None:
        self.state, self.stage, self.approvals, self.approved_revision = state, None, {}, None
