"""Operations: the tick, health and metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from api.auth import PrincipalDep, ServicesDep
from api.errors import ApiError
from api.routes.hazards import aware
from api.schemas import Health, Tick, TickDone
from projections.store import UNAVAILABLE_ERRORS
from projections.timefmt import iso

router = APIRouter(tags=["operations"])


@router.post(
    "/api/v1/tick",
    response_model=TickDone,
    summary="Handle every missed deadline up to now (what the scheduler runs each minute)",
)
def tick(
    services: ServicesDep,
    principal: PrincipalDep,
    body: Annotated[Tick | None, Body()] = None,
) -> TickDone:
    principal.require_admin()
    clock_now = services.now()
    now = aware(body.now, services) if body and body.now else clock_now
    assert now is not None
    if now > clock_now:
        raise ApiError(
            422,
            "invalid_input",
            "now may not be later than the server clock (a tick in the future would issue"
            " false re-notices)",
            "时间不能晚于服务器当前时间（否则会误发重新下达的通知）",
            fields=[{"field": "now", "en": "later than the server clock", "zh": "晚于服务器时间"}],
        )
    result = services.app.tick(now)
    services.caught_up(services.app.head())
    return TickDone(
        now=iso(now) or "",
        checked=result.checked,
        renoticed=result.renoticed,
        conflicts=result.conflicts,
        reminded=result.reminded,
        timers_escalated=result.timers_escalated,
        certificate_reminders=result.certificate_reminders,
        certificate_violations=result.certificate_violations,
    )


@router.get(
    "/healthz",
    response_model=Health,
    summary="Liveness and store reachability",
    responses={
        503: {
            "model": Health,
            "description": "the store is unreachable",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        }
    },
)
def healthz(services: ServicesDep, response: Response) -> Health:
    try:
        statuses = services.runner.status()
        services.store.ping()
    except UNAVAILABLE_ERRORS as e:
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return Health(status="unavailable", store=f"{type(e).__name__}", projections={})
    return Health(
        status="ok",
        store="ok",
        projections={
            s.name: {"position": s.position, "lag": s.lag, "updated_at": s.updated_at}
            for s in statuses
        },
    )
