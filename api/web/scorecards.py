"""The monthly scorecard as a page (with a chart drawn on the server), as CSV and as Excel.

The numbers are the JSON API's (``api.routes.scorecards.get_scorecard``), under the same
rules: those who see every item see every department, others their own department's row and
people. ``as_of`` shows the scorecard exactly as it stood at an instant (the auditor's look
back).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from starlette.responses import Response

from api.case_schemas import Scorecard
from api.routes.scorecards import MONTH, get_scorecard
from api.web import labels
from api.web.chart import grouped_bars
from api.web.core import Ctx, UserCtx
from api.web.items import _parse_instant
from documents import sheets
from domain.errors import NotFound
from projections.scorecards import DEPARTMENT_METRICS

router = APIRouter(include_in_schema=False)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: what the chart compares per department
CHART_SERIES = ("filed", "closed", "closed_on_time", "closed_on_time_extended", "overdue_periods")


def _month(ctx: Ctx, month: str | None) -> tuple[str, str | None]:
    """The month asked for (default: this month at the site), and an error if it is not one."""
    if not month:
        local = ctx.lang.local(ctx.services.now())
        assert local is not None
        return f"{local:%Y-%m}", None
    if not MONTH.match(month):
        return month, ctx._("The month must be given as YYYY-MM.")
    return month, None


def _shift(month: str, by: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + (mon - 1) + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _card(ctx: Ctx, month: str, when: datetime | None) -> Scorecard:
    return get_scorecard(services=ctx.services, principal=ctx.user, month=month, as_of=when)


def _department_name(ctx: Ctx, code: str, name_zh: str | None) -> str:
    record = ctx.org().department(code)
    if record is not None:
        return ctx.department_name(code)
    return name_zh or code


@router.get("/scorecards")
def scorecard_page(ctx: UserCtx, month: str | None = None, as_of: str | None = None) -> Response:
    month, error = _month(ctx, month)
    when = _parse_instant(ctx, as_of) if as_of else None
    if error:
        return ctx.render(
            "scorecards.html", status=422, error=error, month=month, as_of=when, card=None
        )
    card = _card(ctx, month, when)
    rows = [
        (_department_name(ctx, d.department, d.name_zh), d.vetoed, d.model_dump())
        for d in card.departments
        if d.vetoed or any(getattr(d, m) for m in DEPARTMENT_METRICS)
    ]
    people = sorted(card.people, key=lambda p: (-p.violations, -p.cases, p.person))
    return ctx.render(
        "scorecards.html",
        month=month,
        as_of=when,
        card=card,
        chart=grouped_bars(rows, CHART_SERIES) if rows else None,
        names={
            d.department: _department_name(ctx, d.department, d.name_zh) for d in card.departments
        },
        people=people,
        metrics=[(m, labels.SCORE_METRICS[m]) for m in DEPARTMENT_METRICS],
        series=[(s, labels.SCORE_METRICS[s]) for s in CHART_SERIES],
        previous=_shift(month, -1),
        following=_shift(month, 1),
        query=_query(month, when),
    )


def _query(month: str, when: datetime | None) -> dict[str, str]:
    query = {"month": month}
    if when is not None:
        query["as_of"] = when.isoformat()
    return query


@router.get("/scorecards.{fmt}")
def scorecard_download(
    ctx: UserCtx,
    fmt: str,
    month: str | None = None,
    as_of: str | None = None,
    part: str = "departments",
) -> Response:
    """The same numbers as a file: CSV (departments, or ``part=people``) or Excel (both).

    The files are the JSON API's exports (``documents.sheets``); this route serves them to
    a signed-in browser, which has a session rather than a bearer token.
    """
    if fmt not in ("csv", "xlsx"):
        raise NotFound("format", fmt)
    month, error = _month(ctx, month)
    when = _parse_instant(ctx, as_of) if as_of else None
    if error:
        return ctx.render(
            "scorecards.html", status=422, error=error, month=month, as_of=when, card=None
        )
    card = _card(ctx, month, when)
    departments, people = sheets.score_sheets(
        month, [d.model_dump() for d in card.departments], [p.model_dump() for p in card.people]
    )
    if fmt == "xlsx":
        content, name = sheets.to_xlsx([departments, people]), f"scorecard-{month}.xlsx"
    elif part == "people":
        content, name = sheets.to_csv(people), f"scorecard-{month}-people.csv"
    else:
        content, name = sheets.to_csv(departments), f"scorecard-{month}.csv"
    media = "text/csv; charset=utf-8" if fmt == "csv" else XLSX
    response = Response(
        content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
    return ctx.finish(response)
