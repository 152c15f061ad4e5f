"""Use cases of supervision (Ch. 6.1, 6.2): evaluations, their sign-off, and its reproduction.

The figures an evaluation rests on are computed from the event log itself (not
from the projection tables) up to a log position, with the parameters then in
force (company time zone, review deadline); the sign-off records all three.
`reproduce` recomputes them later from the log up to the recorded position and
names every figure that differs; `drift` compares them with the log as it is now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from nm_workflow.application import figure_rows, figures
from nm_workflow.application.clock import Clock, system_clock
from nm_workflow.application.commands import CommandContext, CommandResult, CommandRunner
from nm_workflow.application.facts import TOPICS, fold_all
from nm_workflow.application.reads import AggregateReads
from nm_workflow.application.security import Actor, Command, authorize
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.evaluation import Evaluation, EvaluationKind, Severity, SignOff
from nm_workflow.domain.oversight_errors import InvalidPeriod, NotSignedOff
from nm_workflow.domain.periods import Period, quarter
from nm_workflow.domain.roles import Role

SIGN_OFF_BY_ANOTHER_PERSON = True
"""Four eyes on a sign-off; to come from the workflow policy once it is versioned data (Ch. 8)."""


def evaluation_view(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "id": evaluation.id,
        "version": evaluation.version,
        "kind": evaluation.kind,
        "period_first": evaluation.period_first,
        "period_last": evaluation.period_last,
        "quarter": evaluation.period.quarter,
        "departments": list(evaluation.departments),
        "platforms": list(evaluation.platforms),
        "department": evaluation.department,
        "opened_by": evaluation.opener_id,
        "findings": [dict(f) for f in evaluation.findings],
        "recommendations": [dict(r) for r in evaluation.recommendations],
        "sign_off": None if evaluation.signature is None else dict(evaluation.signature),
        "created_at": evaluation.created_on,
        "modified_at": evaluation.modified_on,
    }


def period_of(request: dict[str, Any]) -> Period:
    """A `quarter` ('2026Q3'), or `period_first` and `period_last` (days, both included)."""
    label, first, last = request.get("quarter"), request.get("period_first"), request.get("period_last")
    if label is not None and first is None and last is None:
        return quarter(label)
    if label is None and isinstance(first, date) and isinstance(last, date):
        return Period(first, last)
    raise InvalidPeriod("Name either a quarter, or both period_first and period_last.")


def supervision_queue(
    queue: dict[str, list[dict[str, Any]]], today: date, interval_days: int
) -> dict[str, Any]:
    """The evaluation queue with what is overdue on `today` (a day in the company's time zone).

    `queue` is projections.evaluation_status.read_queue's answer. A recommendation is overdue after
    its due date; the next periodic check is due `interval_days` after the last one's period ended,
    and overdue (as is a service that never had one) once that day has passed.
    """
    last = queue["last_periodic_check"][0]["period_last"] if queue["last_periodic_check"] else None
    next_due = None if last is None else _days_after(last, interval_days)
    return {
        "evaluations": queue["evaluations"],
        "recommendations": [r | {"overdue": r["due_date"] < today} for r in queue["recommendations"]],
        "periodic_check": {
            "last_period_last": last,
            "interval_days": interval_days,
            "next_due": next_due,
            "overdue": next_due is None or next_due < today,
        },
    }


def _days_after(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:  # a check of a period ending in 9999
        return date.max


@dataclass(frozen=True)
class Reproduction:
    evaluation_id: UUID
    position: int
    """The log position the signed-off figures were computed at."""
    signed: list[dict[str, Any]]
    recomputed: list[dict[str, Any]]
    differences: list[dict[str, Any]]
    """Signed vs recomputed at the same position: empty when the log still gives the figures."""

    @property
    def reproduced(self) -> bool:
        return not self.differences


class Evaluations(AggregateReads[Evaluation]):
    """Commands and reads of evaluations; `event_clock` dates their events (see ContentItems)."""

    _read_command = Command.READ_EVALUATIONS

    def __init__(self, store: EventStore, settings: Settings, *, event_clock: Clock = system_clock) -> None:
        self._store, self._settings = store, settings
        self._runner = CommandRunner(store, Evaluation, evaluation_view, event_clock)

    # --- commands -------------------------------------------------------------------

    def open(self, ctx: CommandContext, request: dict[str, Any]) -> CommandResult:
        def decide(_: Evaluation | None) -> Evaluation:
            return Evaluation.open(
                kind=EvaluationKind(request["kind"]),
                period=period_of(request),
                departments=list(request.get("departments") or []),
                platforms=list(request.get("platforms") or []),
                department=ctx.actor.department,
                opener_id=ctx.actor.actor_id,
            )

        return self._runner.run(ctx, Command.OPEN_EVALUATION, None, request, decide)

    def record_findings(
        self, ctx: CommandContext, evaluation_id: UUID, finding: dict[str, Any]
    ) -> CommandResult:
        return self._change(
            ctx, Command.RECORD_FINDINGS, evaluation_id, finding,
            lambda evaluation: evaluation.record_findings(
                text=finding["text"], severity=Severity(finding["severity"]),
                item_ids=list(finding.get("item_ids") or []), figures=list(finding.get("figures") or []),
                known_figures=figures.NAMES, recorded_by=ctx.actor.actor_id,
            ),
        )  # fmt: skip

    def make_recommendation(
        self, ctx: CommandContext, evaluation_id: UUID, recommendation: dict[str, Any]
    ) -> CommandResult:
        return self._change(
            ctx, Command.MAKE_RECOMMENDATION, evaluation_id, recommendation,
            lambda evaluation: evaluation.make_recommendation(**recommendation, made_by=ctx.actor.actor_id),
        )  # fmt: skip

    def close_recommendation(
        self, ctx: CommandContext, evaluation_id: UUID, number: int, closure: dict[str, Any]
    ) -> CommandResult:
        payload = {"number": number, **closure}
        central = Role.MANAGEMENT in ctx.actor.roles
        return self._change(
            ctx, Command.CLOSE_RECOMMENDATION, evaluation_id, payload,
            lambda evaluation: evaluation.close_recommendation(
                **payload, closer_department=None if central else ctx.actor.department
            ),
        )  # fmt: skip

    def sign_off(self, ctx: CommandContext, evaluation_id: UUID, comment: str | None = None) -> CommandResult:
        """Freeze the evaluation's figures as the log gives them now, with that log position."""
        authorize(ctx.actor, Command.SIGN_OFF_EVALUATION)  # before the (long) computation
        evaluation = self._runner.load(evaluation_id, ctx.expected_version)
        position, parameters = self._store.head(), self.parameters()
        computed = self.figures_at(evaluation, position, parameters)
        return self._change(
            ctx, Command.SIGN_OFF_EVALUATION, evaluation_id, {"comment": comment},
            lambda current: current.sign_off(
                signer_id=ctx.actor.actor_id, comment=comment, figures=computed, position=position,
                parameters=parameters.as_dict(), by_another_person=SIGN_OFF_BY_ANOTHER_PERSON,
            ),
        )  # fmt: skip

    def _change(
        self,
        ctx: CommandContext,
        command: Command,
        evaluation_id: UUID,
        payload: dict[str, Any],
        act: Callable[[Evaluation], None],
    ) -> CommandResult:
        def decide(evaluation: Evaluation | None) -> Evaluation:
            assert evaluation is not None  # the runner loaded it: the id names an evaluation
            act(evaluation)
            return evaluation

        return self._runner.run(ctx, command, evaluation_id, payload, decide)

    # --- reads ------------------------------------------------------------------------

    def _view(self, aggregate: Evaluation) -> dict[str, Any]:
        return evaluation_view(aggregate)

    def reproduce(self, actor: Actor, evaluation_id: UUID) -> Reproduction:
        """Recompute the signed-off figures from the log up to the signed position."""
        evaluation, signed = self._signed(actor, evaluation_id)
        parameters = figures.Parameters(**signed["parameters"])
        recomputed = self.figures_at(evaluation, signed["position"], parameters)
        differences = figure_rows.differences(signed["figures"], recomputed)
        return Reproduction(evaluation.id, signed["position"], signed["figures"], recomputed, differences)

    def drift(self, actor: Actor, evaluation_id: UUID) -> dict[str, Any]:
        """How the figures the log gives now differ from the signed-off ones (late data, corrections)."""
        evaluation, signed = self._signed(actor, evaluation_id)
        head = self._store.head()
        now = self.figures_at(evaluation, head, figures.Parameters(**signed["parameters"]))
        differences = figure_rows.differences(signed["figures"], now)
        return {"signed_position": signed["position"], "position": head, "differences": differences}

    def _signed(self, actor: Actor, evaluation_id: UUID) -> tuple[Evaluation, SignOff]:
        authorize(actor, Command.READ_EVALUATIONS)
        evaluation = self._runner.load(evaluation_id)
        if evaluation.signature is None:
            raise NotSignedOff("The evaluation is not signed off yet; there are no frozen figures.")
        return evaluation, evaluation.signature

    def parameters(self) -> figures.Parameters:
        return figures.Parameters(self._settings.company_time_zone, self._settings.review_stage_hours)

    def figures_at(
        self, evaluation: Evaluation, position: int, parameters: figures.Parameters
    ) -> list[dict[str, Any]]:
        scope = figure_rows.Scope(
            frozenset(evaluation.departments) or None, frozenset(evaluation.platforms) or None
        )
        facts = list(fold_all(self._events_upto(position)).values())
        return figure_rows.rows(facts, evaluation.period, parameters, scope)

    def _events_upto(self, position: int) -> Iterator[Any]:
        to_event = self._store.mapper.to_domain_event
        for notification in self._store.notifications(TOPICS):
            if notification.id > position:
                return
            yield to_event(notification)
