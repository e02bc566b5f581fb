"""Documents: printable notices (PDF) and CSV / Excel exports of lists and boards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api.auth import Principal, PrincipalDep, ServicesDep
from api.errors import ApiError, forbidden
from api.routes.departments import board_data
from api.routes.hazards import AsOf, aware, scoped_items
from api.routes.scorecards import get_scorecard
from api.services import Services
from documents import notices, sheets
from domain.hazard import STATES
from projections.timefmt import iso

router = APIRouter(prefix="/api/v1", tags=["documents"])

Format = Literal["csv", "xlsx"]
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
#: the most rows one export holds
MAX_ROWS = 100_000


def _file(content: bytes, kind: str, filename: str) -> Response:
    return Response(
        content,
        media_type=MEDIA[kind],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _pdf(
    services: Services,
    principal: Principal,
    hazard_id: UUID,
    as_of: datetime | None,
    render: Callable[[], bytes],
    name: str,
) -> Response:
    hazard = services.app.hazard(hazard_id, as_of=as_of)
    if not principal.can_see(hazard):
        raise forbidden()
    try:
        content = render()
    except notices.DocumentMissing as e:
        raise ApiError(404, "not_found", e.en, e.zh) from None
    return _file(content, "pdf", f"{name}-{hazard.number}.pdf")


@router.get(
    "/hazards/{hazard_id}/notice.pdf",
    response_class=Response,
    summary="The rectification notice (整改通知书) as a printable PDF",
    responses={200: {"content": {"application/pdf": {}}}},
)
def notice_pdf(
    hazard_id: UUID, services: ServicesDep, principal: PrincipalDep, as_of: AsOf = None
) -> Response:
    when = aware(as_of, services)
    return _pdf(
        services,
        principal,
        hazard_id,
        when,
        lambda: notices.notice_pdf(services.app, hazard_id, when),
        "notice",
    )


@router.get(
    "/hazards/{hazard_id}/opinion.pdf",
    response_class=Response,
    summary="The handling opinion (处理意见) of an overdue period as a printable PDF",
    responses={200: {"content": {"application/pdf": {}}}},
)
def opinion_pdf(
    hazard_id: UUID,
    services: ServicesDep,
    principal: PrincipalDep,
    period: Annotated[int | None, Query(ge=1, description="default: the latest")] = None,
    as_of: AsOf = None,
) -> Response:
    when = aware(as_of, services)
    return _pdf(
        services,
        principal,
        hazard_id,
        when,
        lambda: notices.opinion_pdf(services.app, hazard_id, period, when),
        "opinion",
    )


@router.get(
    "/hazards.{fmt}",
    response_class=Response,
    summary="The item list (same filters as GET /hazards, every page) as CSV or Excel",
)
def export_list(
    fmt: Format,
    services: ServicesDep,
    principal: PrincipalDep,
    department: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[str | None, Query(description=" | ".join(STATES))] = None,
    overdue: bool | None = None,
    late: bool | None = None,
    as_of: AsOf = None,
) -> Response:
    if state is not None and state not in STATES:
        raise ApiError(
            422,
            "invalid_input",
            f"state must be one of {', '.join(STATES)}",
            f"状态取值无效，应为：{'、'.join(STATES)}",
            fields=[{"field": "state", "en": "unknown state", "zh": "未知状态"}],
        )
    when = aware(as_of, services)
    rows = all_items(
        services,
        principal,
        department=department,
        state=state,
        overdue=overdue,
        late=late,
        as_of=when,
    )
    title = "隐患清单" + (f" {iso(when)}" if when else "")
    sheet = sheets.item_sheet(title.replace(":", "")[:31], rows)
    content = sheets.to_csv(sheet) if fmt == "csv" else sheets.to_xlsx([sheet])
    return _file(content, fmt, f"hazards.{fmt}")


def all_items(services: Services, principal: Principal, **query: Any) -> list[dict[str, Any]]:
    """Every page of the list query (up to MAX_ROWS), each row with its late flag."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while len(rows) < MAX_ROWS:
        items, cursor = scoped_items(services, principal, limit=1000, before_seq=cursor, **query)
        rows += items
        if cursor is None:
            break
    for row in rows:
        row["late"] = row["delay_seconds"] > services.late_after_seconds
    return rows[:MAX_ROWS]


@router.get(
    "/departments/{code}/board.{fmt}",
    response_class=Response,
    summary="A department's board (counts and items) as CSV (items) or Excel (both sheets)",
)
def export_board(
    code: str,
    fmt: Format,
    services: ServicesDep,
    principal: PrincipalDep,
    include_closed: bool = False,
    as_of: AsOf = None,
) -> Response:
    when = aware(as_of, services)
    data = board_data(services, principal, code, include_closed=include_closed, as_of=when)
    for item in data["items"]:
        item["late"] = item["delay_seconds"] > services.late_after_seconds
    items = sheets.item_sheet(f"{code} 条目", data["items"])
    if fmt == "csv":
        return _file(sheets.to_csv(items), "csv", f"board-{code}.csv")
    counts = sheets.counts_sheet(f"{code} 统计", data["counts"])
    return _file(sheets.to_xlsx([counts, items]), "xlsx", f"board-{code}.xlsx")


@router.get(
    "/scorecards.{fmt}",
    response_class=Response,
    summary="A month's scorecard as CSV (departments) or Excel (departments and people)",
)
def export_scorecard(
    fmt: Format,
    services: ServicesDep,
    principal: PrincipalDep,
    month: Annotated[str, Query(description="YYYY-MM (calendar month at the site)")],
    as_of: AsOf = None,
) -> Response:
    card = get_scorecard(services, principal, month, as_of)
    departments = [d.model_dump() for d in card.departments]
    people = [p.model_dump() for p in card.people]
    sheets_ = sheets.score_sheets(month, departments, people)
    if fmt == "csv":
        return _file(sheets.to_csv(sheets_[0]), "csv", f"scorecard-{month}.csv")
    return _file(sheets.to_xlsx(sheets_), "xlsx", f"scorecard-{month}.xlsx")
