"""``create_app(services)``: the FastAPI application (JSON API, pages, health, metrics)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from api import errors, pages
from api.middleware import BodyLimit, Metrics
from api.routes import (
    cases,
    checklists,
    departments,
    digest,
    documents,
    hazards,
    inbox,
    ops,
    org,
    outbox,
    scorecards,
    site_visits,
    training,
)
from api.services import Services
from projections.store import UNAVAILABLE_ERRORS

DESCRIPTION = """
safeloop — the safety-information closed loop of a coal mine, kept as an event log.

Authenticate with `Authorization: Bearer <token>` (the admin token, or a person's token from
`safeloop token create PERSON`). Commands answer with the item's new `version`; send it back
as `If-Match` to refuse to overwrite someone else's change (409). Reads that take `as_of`
answer as the system held it at that instant. Errors carry `message.zh` and `message.en`.
"""


class ProjectionLag(Collector):
    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterable[GaugeMetricFamily]:
        position = GaugeMetricFamily(
            "safeloop_projection_position", "last notification applied", labels=["projection"]
        )
        lag = GaugeMetricFamily(
            "safeloop_projection_lag", "notifications not yet applied", labels=["projection"]
        )
        try:
            for status in self.services.runner.status():
                position.add_metric([status.name], status.position)
                lag.add_metric([status.name], status.lag)
        except UNAVAILABLE_ERRORS:
            pass
        yield position
        yield lag


def create_app(services: Services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for start in services.on_start:
            await run_in_threadpool(start)
        try:
            yield
        finally:
            for stop in reversed(services.on_stop):
                await run_in_threadpool(stop)

    app = FastAPI(
        title="safeloop",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.services = services
    errors.install(app)
    for router in (
        documents.router,
        hazards.router,
        departments.router,
        org.router,
        ops.router,
        pages.router,
    ):
        # every operation's OpenAPI lists the errors it may answer with (ErrorOut)
        app.include_router(router, responses=errors.ERROR_RESPONSES)
    for router in (cases.router, site_visits.router, scorecards.router):
        app.include_router(router, responses=errors.ERROR_RESPONSES)
    for router in (training.router, checklists.router):
        app.include_router(router, responses=errors.ERROR_RESPONSES)
    for router in (inbox.router, digest.router, outbox.router):
        app.include_router(router, responses=errors.ERROR_RESPONSES)
    pages.install(app)

    registry = CollectorRegistry()
    registry.register(ProjectionLag(services))

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(Metrics, registry=registry)
    # pages that take photos accept up to four of them
    photos = 4 * services.web.upload_max_bytes + services.max_body_bytes
    app.add_middleware(
        BodyLimit,
        max_bytes=services.max_body_bytes,
        larger={"/file": photos, "/items/": photos},
    )
    return app
