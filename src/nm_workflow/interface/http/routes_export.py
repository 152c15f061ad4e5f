"""`GET /audit/export`: the log with its chain links, streamed, for offline verification (docs/audit.md)."""

from __future__ import annotations

from itertools import chain
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from nm_workflow.application.audit_export import AuditExport, ExportFilter
from nm_workflow.application.security import Command, authorize
from nm_workflow.interface.export_formats import FIELDS, ExportFormat, lines
from nm_workflow.interface.http.deps import CurrentActor
from nm_workflow.interface.http.hop_route import HopRoute
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.problems import InvalidRequest
from nm_workflow.interface.http.routes_proofs import PROOF
from nm_workflow.interface.http.times import Moment

router = APIRouter(tags=["audit"], route_class=HopRoute)
_LINE = (
    '{"position":42,"leaf_index":41,"aggregate_id":"0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11","version":1,'
    '"topic":"nm_workflow.domain.content_item:ContentItem.Planned","recorded_at":"2026-03-02T10:00:00.000000Z",'
    '"state":"eyJ0aW1lc3RhbXAiOi4uLn0=","record_hash":"5c88...","previous_chain_hash":"0e1f...",'
    '"chain_hash":"a3b4..."}\n'
)
_FROM = "2026-03-01T00:00:00Z"
_CSV = ",".join(FIELDS) + "\r\n"


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One record per stored event, in log order (docs/audit.md, 'Exports').",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}, "example": _LINE},
                "text/csv": {"schema": {"type": "string"}, "example": _CSV},
            },
        },
        **PROOF,
    },
    **callers(Command.READ_AUDIT_LOG),
)
def export(
    request: Request,
    actor: CurrentActor,
    form: Annotated[
        ExportFormat, Query(alias="format", description="jsonl (JSON Lines) or csv.", examples=["jsonl"])
    ] = ExportFormat.JSONL,
    aggregate: Annotated[
        UUID | None,
        Query(description="Only this aggregate's events.", examples=["0b7e4c1e-9a43-4c59-a1c2-7f1f3a0e5d11"]),
    ] = None,
    start: Annotated[
        Moment | None,
        Query(
            alias="from", description="Only events recorded at or after.", examples=["2026-03-01T00:00:00Z"]
        ),
    ] = None,
    end: Annotated[
        Moment | None,
        Query(alias="to", description="Only events recorded before.", examples=["2026-04-01T00:00:00Z"]),
    ] = None,
) -> StreamingResponse:
    """Every stored event with its chain link, streamed: what docs/audit/verify_export.py checks."""
    authorize(actor, Command.READ_AUDIT_LOG)
    if start is not None and end is not None and start >= end:
        raise InvalidRequest("'from' must be before 'to'.")
    records = AuditExport(request.app.state.store).records(ExportFilter(aggregate, start, end))
    text = lines(records, form)
    # The first page is read before the answer starts: a store that cannot be read is a 503
    # problem then, not a stream cut short.
    first = next(text, "")
    return StreamingResponse(chain([first], text), media_type=form.media_type)
