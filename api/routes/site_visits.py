"""Site visits: a manager's presence at a place and time (the 24-hour rule's evidence)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.auth import PrincipalDep, ServicesDep
from api.case_schemas import SiteVisitIn, SiteVisitOut, SiteVisitRow
from api.errors import forbidden
from api.routes.cases import require_case_actor, sees_all_cases
from api.routes.hazards import AsOf, aware
from domain.site_visit import VisitRow, visit_id
from projections import site_visits
from projections.timefmt import iso

router = APIRouter(prefix="/api/v1/site-visits", tags=["site visits"])

MAX_LIMIT = 1000


@router.post(
    "",
    status_code=201,
    response_model=SiteVisitOut,
    responses={200: {"model": SiteVisitOut, "description": "the same visit was recorded before"}},
    summary="Record a visit (person, place, instant); the same visit again is recorded once",
)
def record_visit(
    body: SiteVisitIn, services: ServicesDep, principal: PrincipalDep, response: Response
) -> SiteVisitOut:
    require_case_actor(principal)
    at = aware(body.at, services)
    assert at is not None
    row = VisitRow(body.person, body.location, at)
    result = services.app.record_site_visits(
        [row], source="api", actor=principal.actor, now=services.now()
    )
    services.caught_up(result.position)
    if not result.created:
        response.status_code = 200
    return SiteVisitOut(
        id=visit_id(row),
        person=row.person,
        location=" ".join(row.location.split()),
        at=iso(at) or "",
        created=bool(result.created),
    )


@router.get("", response_model=list[SiteVisitRow], summary="Visits, newest first")
def list_visits(
    services: ServicesDep,
    principal: PrincipalDep,
    location: Annotated[str | None, Query(max_length=200)] = None,
    person: Annotated[str | None, Query(max_length=100)] = None,
    start: Annotated[AsOf, Query(alias="from", description="from this instant (included)")] = None,
    end: Annotated[AsOf, Query(alias="to", description="to this instant (included)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> list[SiteVisitRow]:
    if not sees_all_cases(principal):
        raise forbidden()
    rows = site_visits.list_visits(
        services.store,
        location=location,
        person=person,
        start=aware(start, services),
        end=aware(end, services),
        limit=limit,
    )
    return [SiteVisitRow(**row) for row in rows]
