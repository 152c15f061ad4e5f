"""Reports (Ch. 5.5 "形成定期报告,提交管理层"): the quarterly report as JSON or CSV; the supervision queue."""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from nm_workflow.application.evaluations import supervision_queue
from nm_workflow.application.security import Command
from nm_workflow.interface.http.answers import READ
from nm_workflow.interface.http.deps import CurrentActor
from nm_workflow.interface.http.hop_route import HopRoute
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.routes_reads import (
    FRESHNESS,
    Department,
    Fresh,
    Platform,
    Reads,
    Watch,
    prepare,
    read_route,
)
from nm_workflow.interface.http.schemas_evaluations import EvaluationQueue, QuarterLabel, QuarterlyReport
from nm_workflow.interface.http.thread_hop import in_thread
from nm_workflow.interface.report_csv import report_csv
from projections.evaluation_status import read_queue
from projections.quarterly_evaluation import read_quarter

router = APIRouter(tags=["supervision"], route_class=HopRoute)
CSV = "text/csv"
_CSV_EXAMPLE = "\ufeffquarter,department,platform,items_planned,...\r\n2026Q3,*,*,120,...\r\n"
_ATTACHMENT = {
    "Content-Disposition": {
        "description": 'Only with `Accept: text/csv`: `attachment; filename="quarterly-2026Q3.csv"`',
        "schema": {"type": "string"},
    },
    "Vary": {
        "description": "`Accept`: the same URL answers JSON or CSV by it, so a cache keys on it.",
        "schema": {"type": "string", "const": "Accept"},
    },
}


@router.get(
    "/reports/quarterly",
    response_model=QuarterlyReport,
    responses={
        200: {
            "model": QuarterlyReport,
            "headers": FRESHNESS | _ATTACHMENT,
            "content": {CSV: {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}},
        },
        **READ,
    },
    **callers(Command.READ_EVALUATIONS),
)
async def quarterly(
    request: Request,
    actor: CurrentActor,
    reads: Reads,
    fresh: Fresh,
    watch: Watch,
    quarter: Annotated[
        QuarterLabel, Query(description="The quarter (company time zone).", examples=["2026Q3"])
    ],
    department: Department = None,
    platform: Platform = None,
) -> Response:
    """The quarterly_evaluation rows of a quarter; `Accept: text/csv` for CSV (UTF-8 with BOM)."""
    headers = await prepare(actor, reads, "quarterly_report", fresh, watch, Command.READ_EVALUATIONS)
    rows = await in_thread(partial(read_quarter, reads, quarter, department, platform))
    headers["Vary"] = "Accept"  # one URL, two representations: a cache must key on Accept
    if _prefers_csv(",".join(request.headers.getlist("accept"))):  # a list header: its lines combine
        headers["Content-Disposition"] = f'attachment; filename="quarterly-{quarter}.csv"'
        return Response(report_csv(rows), media_type=f"{CSV}; charset=utf-8", headers=headers)
    body = QuarterlyReport(quarter=quarter, position=int(headers["Projection-Position"]), rows=rows)
    return JSONResponse(body.model_dump(mode="json"), headers=headers)


_JSON_RANGES = ("application/json", "application/*", "*/*")  # the most specific one named counts
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


def _prefers_csv(accept: str) -> bool:
    """Whether an Accept header (RFC 9110 12.5.1) asks for CSV: `text/csv` named, in any case,
    with a weight above 0 and at least that of JSON (`application/json`, else `application/*`,
    else `*/*`). `text/csv;q=0` refuses CSV; without `text/csv` the answer is JSON."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        kind, *parameters = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                # RFC 9110 12.4.2: 0 to 1, at most three decimals; anything else ("inf", "nan",
                # "1_0", "2") names nothing acceptable.
                weight = float(value) if _QVALUE.fullmatch(value.strip()) else 0.0
        weights[kind.lower()] = weight
    csv = weights.get(CSV, 0.0)
    json = next((weights[kind] for kind in _JSON_RANGES if kind in weights), 0.0)
    return csv > 0 and csv >= json


@router.get("/queues/evaluations", **read_route(EvaluationQueue, Command.READ_EVALUATIONS))
async def evaluation_queue(
    request: Request, actor: CurrentActor, reads: Reads, fresh: Fresh, watch: Watch
) -> JSONResponse:
    """Evaluations to sign off, recommendations to close, and whether a periodic check is overdue."""
    headers = await prepare(actor, reads, "evaluation_queue", fresh, watch, Command.READ_EVALUATIONS)
    settings, clock = reads.settings, request.app.state.clock
    today = clock().astimezone(ZoneInfo(settings.company_time_zone)).date()
    queue = supervision_queue(
        await in_thread(partial(read_queue, reads)), today, settings.periodic_check_days
    )
    return JSONResponse(EvaluationQueue.model_validate(queue).model_dump(mode="json"), headers=headers)
