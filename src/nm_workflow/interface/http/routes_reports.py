"""Reports (Ch. 5.5 "形成定期报告,提交管理层"): the quarterly report as JSON or CSV; the supervision queue."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from nm_workflow.application.clock import system_clock
from nm_workflow.application.evaluations import supervision_queue
from nm_workflow.application.security import Command, authorize
from nm_workflow.interface.http.deps import CurrentActor
from nm_workflow.interface.http.routes_items import READ
from nm_workflow.interface.http.routes_reads import Fresh, Reads, _ok, _prepare
from nm_workflow.interface.http.schemas_evaluations import EvaluationQueue, QuarterLabel, QuarterlyReport
from nm_workflow.interface.report_csv import report_csv
from projections.evaluation_status import read_queue
from projections.quarterly_evaluation import read_quarter

router = APIRouter(tags=["supervision"])
CSV = "text/csv"


@router.get(
    "/reports/quarterly",
    response_model=QuarterlyReport,
    responses={200: {"content": {CSV: {"schema": {"type": "string"}}}}, **READ},
)
def quarterly(
    request: Request,
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    quarter: Annotated[QuarterLabel, Query(description="e.g. 2026Q3 (company time zone)")],
    department: Annotated[str | None, Query(max_length=200)] = None,
    platform: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    """The quarterly_evaluation rows of a quarter; `Accept: text/csv` for CSV (UTF-8 with BOM)."""
    authorize(actor, Command.READ_EVALUATIONS)
    headers = _prepare(actor, reads, "quarterly_report", fresh)
    rows = read_quarter(reads, quarter, department, platform)
    if CSV in request.headers.get("accept", ""):
        headers["Content-Disposition"] = f'attachment; filename="quarterly-{quarter}.csv"'
        return Response(report_csv(rows), media_type=f"{CSV}; charset=utf-8", headers=headers)
    body = QuarterlyReport(quarter=quarter, position=int(headers["Projection-Position"]), rows=rows)
    return JSONResponse(body.model_dump(mode="json"), headers=headers)


@router.get("/queues/evaluations", response_model=EvaluationQueue, responses=_ok(EvaluationQueue))
def evaluation_queue(actor: CurrentActor, reads: Reads, fresh: Fresh) -> JSONResponse:
    """Evaluations to sign off, recommendations to close, and whether a periodic check is overdue."""
    authorize(actor, Command.READ_EVALUATIONS)
    headers = _prepare(actor, reads, "evaluation_queue", fresh)
    settings = reads.settings
    today = system_clock().astimezone(ZoneInfo(settings.company_time_zone)).date()
    queue = supervision_queue(read_queue(reads), today, settings.periodic_check_days)
    return JSONResponse(EvaluationQueue.model_validate(queue).model_dump(mode="json"), headers=headers)
