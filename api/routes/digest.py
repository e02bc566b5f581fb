"""The daily digest of a site day: new findings, closed, overdue, longest overdue, repeats."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import PrincipalDep, ServicesDep
from api.errors import forbidden
from projections.checklists import missing_on_day
from projections.digest import daily
from projections.timefmt import iso

router = APIRouter(tags=["digest"])


@router.get(
    "/api/v1/digest",
    summary="The daily digest of a site day (midnight to midnight in the site's timezone)",
)
def get_digest(
    services: ServicesDep,
    principal: PrincipalDep,
    date: Annotated[
        dt.date | None, Query(description="YYYY-MM-DD, a site day (default: today)")
    ] = None,
) -> dict[str, Any]:
    if not principal.sees_all:
        raise forbidden(
            "the digest is for the information office, leaders and auditors",
            "日报仅供信息办、领导和审计人员查看",
        )
    now = services.now()
    policy = services.policy
    day = date or policy.local_date(now)
    digest = daily(
        services.store,
        day,
        zone=policy.zone,
        repeat_window_days=policy.repeat_window_days,
        now=now,
    )
    org = services.app.org()

    def name(code: str) -> dict[str, str | None]:
        dept = org.department(code) or {}
        return {"code": code, "name_zh": dept.get("name_zh"), "name_en": dept.get("name_en")}

    digest["departments"] = {
        code: name(code)
        for code in {
            *digest["new_findings"]["by_department"],
            *digest["closed"]["by_department"],
        }
        if code != "-"
    }
    digest["missing_checklists"] = missing_on_day(services.store, policy, day, now)
    issued = services.app.digest(day)
    digest["issued"] = (
        {"at": iso(issued.issued_at), "recipients": issued.recipients, "summary": issued.summary}
        if issued is not None
        else None
    )
    return digest
