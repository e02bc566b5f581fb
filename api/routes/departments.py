"""Department boards."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import PrincipalDep, ServicesDep
from api.errors import forbidden
from api.schemas import Board, BoardItem
from domain.errors import NotFound
from projections import boards

router = APIRouter(prefix="/api/v1/departments", tags=["departments"])


@router.get(
    "/{code}/board",
    response_model=Board,
    summary="A department's board: counts by state and its open items, most urgent first",
)
def get_board(
    code: str, services: ServicesDep, principal: PrincipalDep, include_closed: bool = False
) -> Board:
    if services.app.org().department(code) is None:
        raise NotFound("department", code)
    if not principal.can_see_department(code):
        raise forbidden()
    data = boards.board(services.store, code, include_closed=include_closed)
    return Board(
        department=data["department"],
        counts=data["counts"],
        items=[
            BoardItem(**{k: v for k, v in i.items() if k in BoardItem.model_fields})
            for i in data["items"]
        ],
    )
