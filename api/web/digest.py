"""The daily digest as a page: a site day's new findings, closings, overdue items (longest
first) and repeat locations — now, or as it stood at an instant (by recorded time).

The figures and the access rules are the JSON API's (``api.routes.digest.get_digest``):
the information office, the leaders and the auditors (whoever sees every item).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.responses import Response

from api.errors import forbidden
from api.routes.digest import get_digest
from api.schemas import EARLIEST_YEAR, LATEST_YEAR
from api.web import labels
from api.web.core import Ctx, UserCtx
from api.web.items import _parse_instant

router = APIRouter(include_in_schema=False)

#: grades in the order the page shows them ("unscreened": filed, not graded yet)
GRADE_COLUMNS = ("major", "general", "unscreened")


def _day(ctx: Ctx, text: str | None, when: dt.datetime | None) -> tuple[dt.date, str | None]:
    """The site day asked for (default: today, or the day of ``as_of``) and an error."""
    default = ctx.services.policy.local_date(when or ctx.services.now())
    if not text:
        return default, None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return default, ctx._("The date must be given as YYYY-MM-DD.")
    if not EARLIEST_YEAR <= day.year < LATEST_YEAR:
        return default, ctx._("The date must be between the years %(earliest)d and %(latest)d.") % {
            "earliest": EARLIEST_YEAR,
            "latest": LATEST_YEAR,
        }
    return day, None


@router.get("/digest")
def digest_page(ctx: UserCtx, date: str | None = None, as_of: str | None = None) -> Response:
    if not ctx.user.sees_all:  # the API's rule, before anything is read
        raise forbidden(
            "the digest is for the information office, leaders and auditors",
            "日报仅供信息办、领导和审计人员查看",
        )
    when = _parse_instant(ctx, as_of) if as_of else None
    day, error = _day(ctx, date, when)
    if error:
        return ctx.render(
            "digest.html", status=422, error=error, day=date or "", as_of=when, digest=None
        )
    data = get_digest(services=ctx.services, principal=ctx.user, date=day, as_of=when)
    keep = {"as_of": when.isoformat()} if when is not None else {}

    def day_link(other: dt.date) -> str:
        return "/digest?" + urlencode({"date": other.isoformat(), **keep})

    return ctx.render(
        "digest.html",
        day=day.isoformat(),
        as_of=when,
        digest=data,
        names={code: _name(ctx, code, data) for code in _codes(data)},
        new_rows=_new_rows(data),
        grades=[(g, _grade_label(ctx, g)) for g in GRADE_COLUMNS],
        previous=day_link(day - dt.timedelta(days=1)),
        following=day_link(day + dt.timedelta(days=1)),
        item_suffix=("?" + urlencode(keep)) if keep else "",
    )


def _codes(data: dict[str, Any]) -> set[str]:
    codes = {*data["new_findings"]["by_department"], *data["closed"]["by_department"]}
    codes |= {o["department"] or "-" for o in data["overdue_longest"]}
    for repeat in data["repeats"]:
        codes |= set(repeat["departments"])
    return codes


def _name(ctx: Ctx, code: str, data: dict[str, Any]) -> str:
    if code == "-":
        return ctx._("No department yet")
    if ctx.org().department(code) is not None:
        return ctx.department_name(code)
    return (data["departments"].get(code) or {}).get("name_zh") or code


def _grade_label(ctx: Ctx, grade: str) -> str:
    if grade == "unscreened":
        return ctx._("Not graded yet")
    return ctx._(labels.GRADES[grade])


def _new_rows(data: dict[str, Any]) -> list[tuple[str, dict[str, int], int]]:
    return [
        (code, grades, sum(grades.values()))
        for code, grades in data["new_findings"]["by_department"].items()
    ]
