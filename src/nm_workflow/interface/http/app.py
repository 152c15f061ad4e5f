"""The FastAPI application: one EventStore per process, opened and closed by the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from anyio import to_thread
from fastapi import FastAPI

from nm_workflow import __version__
from nm_workflow.application.audit_signing import signer
from nm_workflow.application.audit_tree import AuditTree
from nm_workflow.application.channels import ChannelAccounts
from nm_workflow.application.clock import Clock, system_clock
from nm_workflow.application.evaluations import Evaluations
from nm_workflow.application.event_feed_pages import EventFeed
from nm_workflow.application.feedback import FeedbackService
from nm_workflow.application.interactions import Interactions
from nm_workflow.application.items import ContentItems
from nm_workflow.application.keys import KeyService
from nm_workflow.application.policies import Policies
from nm_workflow.application.policy_book import book_of
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.application.webhooks import Webhooks
from nm_workflow.interface.http import (
    deps,
    docs_ui,
    observability,
    openapi,
    problems,
    routes_channels,
    routes_evaluations,
    routes_export,
    routes_feed,
    routes_feedback,
    routes_interactions,
    routes_items,
    routes_meta,
    routes_policies,
    routes_proofs,
    routes_reads,
    routes_reports,
    routes_webhooks,
)
from nm_workflow.interface.http.protocol import BodyGate, HeadAsGet
from nm_workflow.interface.http.waiting import PositionWatch
from projections import ProjectionSupervisor, ReadModel

DESCRIPTION = """Commands and reads of the new-media operations workflow.

Authenticate with `Authorization: Bearer <API key>`. Commands accept `If-Match`
(the `ETag` you read) and `Idempotency-Key` (retries return the first result).
Errors are RFC 9457 `application/problem+json`; each `type` is documented at `/problems/{slug}`.
"""


def create_app(settings: Settings | None = None, clock: Clock = system_clock) -> FastAPI:
    """The app; `clock` is the present its time checks use (tests pass their own)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = EventStore(settings)
        if settings.uses_postgres:
            # A request thread beyond the pool's connections would only wait for one, and time out
            # (503 store-busy); with no more threads than connections it waits in the event loop.
            to_thread.current_default_thread_limiter().total_tokens = sum(settings.pool_of_process)
        # On SQLite a command's reads are the file's pages: it runs on the event loop, its commit
        # waited for there (ADR 0079); on PostgreSQL each read is a round trip, in a worker thread.
        app.state.commands_on_loop = not settings.uses_postgres
        book_of(store, clock)  # the policy in force is read at the app's present, like every time check
        items = ContentItems(
            store,
            clock,
            timedelta(seconds=settings.clock_skew_seconds),
            timedelta(days=settings.planning_horizon_days),
        )
        app.state.store, app.state.items, app.state.keys = store, items, KeyService(store)
        app.state.policies = Policies(store, clock)
        app.state.policies.current_version()  # on first start, records the seed policy (version 1)
        app.state.read_model = read_model = ReadModel(settings, store)
        app.state.position_watch = PositionWatch(read_model.positions, settings.max_waiting_reads)
        app.state.interactions = Interactions(store, settings, clock=clock)
        app.state.channels = ChannelAccounts(store, settings, clock)
        app.state.feedback = FeedbackService(store)
        app.state.evaluations, app.state.clock = Evaluations(store, settings), clock
        app.state.feed = EventFeed(store)
        # The feed's long-polls and streams wait on the log's head, with a budget of their own.
        app.state.feed_watch = PositionWatch(lambda: {"log": store.head()}, settings.max_waiting_reads, 0.05)
        audit_key = signer(settings.audit_key_file)
        app.state.audit_tree = AuditTree(store, clock, audit_key.sign if audit_key else None)
        app.state.webhooks = Webhooks(store, settings)
        # Embedded unless told (`serve` tells its processes, ADR 0076): an app alone gives working queues.
        supervisor = (
            ProjectionSupervisor(settings, read_model=read_model)
            if settings.projection_place == "embedded"
            else None
        )
        if supervisor is not None:
            supervisor.start()
        pool_reporter = observability.PoolReporter(store)
        pool_reporter.start()
        try:
            yield
        finally:
            pool_reporter.stop()
            if supervisor is not None:
                supervisor.stop()
            read_model.close()
            store.close()

    app = FastAPI(
        title="nm-workflow",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,  # a wrong path is a 404 problem, not a bare redirect
        docs_url=None,  # served from the package by docs_ui, not from a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings, app.state.clock = settings, clock
    problems.install(app)
    routers = (
        routes_items.router,
        routes_reads.router,
        routes_meta.router,
        routes_interactions.router,
        routes_channels.router,
        routes_feedback.router,
        routes_evaluations.router,
        routes_reports.router,
        routes_policies.router,
        routes_policies.compliance,
        observability.router,
        routes_feed.router,
        routes_proofs.router,
        routes_export.router,
        routes_webhooks.router,
    )
    for router in routers:
        # The routes themselves, not `include_router`: the framework matches an included router's
        # routes through a layer of its own, twice per request (docs/performance-history.md,
        # "Third pass").
        # The routers set no include options, their prefixes and tags are in their routes already,
        # and the OpenAPI document is the same.
        app.router.routes.extend(router.routes)
    app.state.api_routes = [route for router in routers for route in router.routes]  # for 405's Allow
    app.add_middleware(BodyGate, max_bytes=settings.max_body_bytes, timeout=settings.request_body_timeout)
    app.add_middleware(HeadAsGet)
    app.add_middleware(observability.RequestMetrics)  # outermost: times the whole request
    openapi.install(app, {deps.command_context: deps.command_headers})
    docs_ui.install(app)
    return app
