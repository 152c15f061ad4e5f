"""The two baselines every load figure is divided by, served exactly like the service.

- `trivial_app`: FastAPI answering the same POSTs with a pydantic body and nothing
  else: what the web framework itself allows on this machine.
- `plain_app`: the plain way to build the service: FastAPI endpoints calling an
  eventsourcing Application, one `save` per request, on the same database. The
  same commands and bodies (validated by the service's own request models), If-Match
  checked against the aggregate's version; no authentication, idempotency records,
  metadata or projections: that is what "plain" leaves out.

Both read NM_DATABASE_URL / NM_DATA_DIR like the service. Served by `python -m bench.serve`.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from nm_workflow.application.settings import Settings
from nm_workflow.domain.review import next_stage
from nm_workflow.domain.roles import SEED_CHAIN, Stage
from nm_workflow.interface.http.schemas import ApprovalIn, DraftIn, PlanIn, ReviewRequestIn

IfMatch = Annotated[str | None, Header()]


def _health() -> dict[str, str]:
    return {"status": "ok"}


class AnyBody(BaseModel):
    model_config = ConfigDict(extra="allow")


def trivial_app() -> FastAPI:
    """POST /items and POST /items/{id}/{command}: validate the body, answer a fixed item."""
    app = FastAPI()
    app.get("/health")(_health)

    @app.post("/items", status_code=201)
    def plan(body: AnyBody) -> JSONResponse:  # noqa: ARG001 (validating the body is the work)
        return JSONResponse({"id": str(uuid4()), "version": 1}, 201, {"ETag": '"1"'})

    @app.post("/items/{item_id}/{command}")
    def command(item_id: UUID, command: str, body: AnyBody) -> JSONResponse:  # noqa: ARG001
        return JSONResponse({"id": str(item_id), "version": 1}, headers={"ETag": '"1"'})

    return app


class Item(Aggregate):
    @event("Planned")
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.revisions: list[dict[str, Any]] = []
        self.stage: str | None = None

    @event("Drafted")
    def draft(self, draft: dict[str, Any]) -> None:
        self.revisions.append(draft)
        self.stage = None

    @event("ReviewRequested")
    def request_review(self, revision: int) -> None:  # noqa: ARG002 (recorded in the event)
        self.stage = Stage.EDITOR.value

    @event("Approved")
    def approve(self, stage: str, revision: int) -> None:  # noqa: ARG002 (recorded in the event)
        following = next_stage([s.value for s in SEED_CHAIN], Stage(stage))
        self.stage = following.value if following else "approved"


class PlainItems(Application[UUID]):
    name = "PlainItems"


def plain_items(settings: Settings) -> PlainItems:
    """The plain way's Application on the settings' database, with the library's own recorder."""
    env = settings.persistence_env()
    env.pop("APPLICATION_RECORDER_TOPIC", None)
    if not settings.uses_postgres:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return PlainItems(env=env)


def _answer(item: Item, status: int = 200) -> JSONResponse:
    body = {"id": str(item.id), "version": item.version, "stage": item.stage}
    return JSONResponse(body, status, {"ETag": f'"{item.version}"'})


def plain_app() -> FastAPI:
    """The plain way's four commands: plan, draft, request review, approve."""
    app = FastAPI()
    app.get("/health")(_health)
    items = plain_items(Settings())

    def change(item_id: UUID, if_match: str | None, stage: str | None = None) -> Item | JSONResponse:
        item: Item = items.repository.get(item_id)
        if if_match is not None and if_match.strip('"') != str(item.version):
            return JSONResponse({"title": "stale version"}, 412)
        if stage is not None and item.stage != stage:
            return JSONResponse({"title": f"not at stage {stage}"}, 409)
        return item

    def saved(item: Item | JSONResponse, command: str, *args: Any) -> JSONResponse:
        if isinstance(item, JSONResponse):
            return item
        getattr(item, command)(*args)
        items.save(item)
        return _answer(item)

    @app.post("/items", status_code=201)
    def plan(body: PlanIn) -> JSONResponse:
        item = Item(body.model_dump(mode="json"))
        items.save(item)
        return _answer(item, 201)

    @app.post("/items/{item_id}/drafts")
    def draft(item_id: UUID, body: DraftIn, if_match: IfMatch = None) -> JSONResponse:
        return saved(change(item_id, if_match), "draft", body.model_dump(mode="json"))

    @app.post("/items/{item_id}/review-requests")
    def request_review(item_id: UUID, body: ReviewRequestIn, if_match: IfMatch = None) -> JSONResponse:
        item = change(item_id, if_match)
        revision = body.revision or (len(item.revisions) if isinstance(item, Item) else 0)
        return saved(item, "request_review", revision)

    @app.post("/items/{item_id}/approvals")
    def approve(item_id: UUID, body: ApprovalIn, if_match: IfMatch = None) -> JSONResponse:
        return saved(change(item_id, if_match, body.stage.value), "approve", body.stage.value, body.revision)

    return app
