"""Department boards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter

from api.auth import Principal, PrincipalDep, ServicesDep
from api.errors import forbidden
from api.routes.hazards import AsOf, aware
from api.schemas import Board, BoardItem
from api.services import Services
from domain.errors import NotFound
from projections import boards, checklists

router = APIRouter(prefix="/api/v1/departments", tags=["departments"])


@router.get(
    "/{code}/board",
    response_model=Board,
    summary="A department's board: counts by state and its open items, most urgent first",
)
def get_board(
    code: str,
    services: ServicesDep,
    principal: PrincipalDep,
    include_closed: bool = False,
    as_of: AsOf = None,
) -> Board:
    when = aware(as_of, services)
    data = board_data(services, principal, code, include_closed=include_closed, as_of=when)
    return Board(
        department=data["department"],
        counts=data["counts"],
        items=[
            BoardItem(
                **{k: v for k, v in i.items() if k in BoardItem.model_fields},
                late=i["delay_seconds"] > services.late_after_seconds,
            )
            for i in data["items"]
        ],
        as_of=data["as_of"],
        missing_checklists=[] if when is not None else current_missing(services, code),
    )


def current_missing(services: Services, code: str) -> list[dict[str, Any]]:
    """The department's work faces with no pre-shift run before the current shift began."""
    now = services.now()
    begun = [s for s in services.policy.shift_starts_around(now, days=1) if s <= now]
    rows = checklists.missing_runs(services.store, begun[-1:], now, department=code)
    return [{k: v for k, v in r.items() if k != "department"} for r in rows]


def board_data(
    services: Services,
    principal: Principal,
    code: str,
    *,
    include_closed: bool,
    as_of: datetime | None,
) -> dict[str, Any]:
    """A board the caller may see (as of an instant, if given); also used by the exports."""
    known = services.app.org().department(code) is not None or (
        as_of is not None and services.app.org(as_of=as_of).department(code) is not None
    )
    if not known:
        raise NotFound("department", code)
    if not principal.can_see_department(code):
        raise forbidden()
    return boards.board(services.store, code, include_closed=include_closed, as_of=as_of)
