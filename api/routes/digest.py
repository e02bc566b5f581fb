"""The daily digest of a site day: new findings, closed, overdue, longest overdue, repeats."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import PrincipalDep, ServicesDep
from api.errors import forbidden
from api.routes.hazards import AsOf, aware
from api.schemas import Day
from projections.checklists import missing_on_day
from projections.digest import daily
from projections.timefmt import iso

router = APIRouter(tags=["digest"])


@router.get(
    "/api/v1/digest",
    summary="The daily digest of a site day (midnight to midnight in the site's timezone),"
    " now or as it stood at an instant",
)
def get_digest(
    services: ServicesDep,
    principal: PrincipalDep,
    date: Annotated[
        Day | None, Query(description="YYYY-MM-DD, a site day (default: today)")
    ] = None,
    as_of: AsOf = None,
) -> dict[str, Any]:
    if not principal.sees_all:
        raise forbidden(
            "the digest is for the information office, leaders and auditors",
            "日报仅供信息办、领导和审计人员查看",
        )
    now = services.now()
    when = aware(as_of, services)
    policy = services.policy
    day = date or policy.local_date(when or now)
    digest = daily(
        services.store,
        day,
        zone=policy.zone,
        repeat_window_days=policy.repeat_window_days,
        now=now,
        as_of=when,
    )
    org = services.app.org(as_of=when) if when is not None else services.app.org()
    current = services.app.org()

    def name(code: str) -> dict[str, str | None]:
        dept = org.department(code) or current.department(code) or {}
        return {"code": code, "name_zh": dept.get("name_zh"), "name_en": dept.get("name_en")}

    digest["departments"] = {
        code: name(code)
        for code in {
            *digest["new_findings"]["by_department"],
            *digest["closed"]["by_department"],
        }
        if code != "-"
    }
    digest["missing_checklists"] = missing_on_day(services.store, policy, day, when or now)
    issued = services.app.digest(day)
    if issued is not None and when is not None and issued.issued_at > when:
        issued = None  # not issued yet at that instant
    digest["issued"] = (
        {"at": iso(issued.issued_at), "recipients": issued.recipients, "summary": issued.summary}
        if issued is not None
        else None
    )
    return digest
