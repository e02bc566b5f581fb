"""Site visits (the 24-hour rule's evidence) as a page: record one by hand, see the recent ones.

The bulk import from an attendance export stays on the command line
(``safeloop site-visits import FILE.csv``). Who sees and who records follow the JSON API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.responses import Response

from api.case_schemas import SiteVisitIn
from api.errors import ApiError
from api.routes.cases import sees_all_cases
from api.routes.hazards import aware
from api.web import labels
from api.web.cases import may_act
from api.web.core import Ctx, Form, UserCtx, text
from api.web.items import _validation_message
from domain.errors import InvalidCommand
from domain.organisation import MANAGER_ROLES
from domain.site_visit import VisitRow
from projections import site_visits

router = APIRouter(include_in_schema=False)

LIST_LIMIT = 100


def _require_reader(ctx: Ctx) -> None:
    if not sees_all_cases(ctx.user):
        raise ApiError(
            403,
            "forbidden",
            "site visits are for the office, the safety department, leaders and auditors",
            "到场记录仅限信息办、安监处、矿领导和审计人员查看",
        )


@router.get("/site-visits")
def visits_page(ctx: UserCtx, person: str | None = None, location: str | None = None) -> Response:
    _require_reader(ctx)
    return _page(ctx, {"person": person or "", "location": location or ""})


def _page(
    ctx: Ctx,
    filters: dict[str, str],
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    rows = site_visits.list_visits(
        ctx.services.store,
        person=filters.get("person") or None,
        location=filters.get("location") or None,
        limit=LIST_LIMIT,
    )
    org = ctx.org()
    managers = [
        (p["id"], _describe(ctx, p))
        for p in sorted(org.people.values(), key=lambda p: p["id"])
        if p.get("role") in MANAGER_ROLES
    ]
    defaults = {"person": "", "location": "", "at": ctx.lang.input_value(ctx.services.now())}
    return ctx.render(
        "visits.html",
        status=status,
        visits=rows,
        filters=filters,
        values={**defaults, **(values or {})},
        managers=managers,
        may_act=may_act(ctx.user),
        error=error,
        limit=LIST_LIMIT,
    )


def _describe(ctx: Ctx, person: dict[str, Any]) -> str:
    """ "name · role · department", for the person field's suggestions."""
    role = str(person.get("role", ""))
    role_label = labels.ROLES.get(role, role)
    parts = (person["name"], ctx._(role_label), ctx.department_name(person.get("department")))
    return " · ".join(x for x in parts if x)


@router.post("/site-visits")
def record_visit(ctx: UserCtx, form: Form) -> Response:
    _require_reader(ctx)
    if not may_act(ctx.user):
        raise ApiError(
            403,
            "forbidden",
            "only the information office and the safety department record site visits",
            "仅信息办和安监处可录入到场记录",
        )
    values = {name: text(form, name) for name in ("person", "location", "at")}
    try:
        body = SiteVisitIn(
            person=values["person"],
            location=values["location"],
            at=values["at"],  # type: ignore[arg-type]
        )
        at = aware(body.at, ctx.services)
        assert at is not None
        result = ctx.services.app.record_site_visits(
            [VisitRow(body.person, body.location, at)],
            source="web",
            actor=ctx.user.actor,
            now=ctx.services.now(),
        )
    except ValidationError as e:
        return _page(ctx, {}, values, _validation_message(ctx, e), 422)
    except InvalidCommand as e:
        return _page(ctx, {}, values, ctx.lang.pick(e.en, e.zh), 422)
    ctx.services.caught_up(result.position)
    message = (
        ctx._("The visit is recorded.")
        if result.created
        else ctx._("This visit was recorded before; nothing changed.")
    )
    return ctx.redirect("/site-visits", message)
