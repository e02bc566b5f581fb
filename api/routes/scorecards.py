"""Monthly scorecards per department (and per person), as they stood at any instant."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import PrincipalDep, ServicesDep
from api.case_schemas import DepartmentScore, PersonScore, Scorecard, VetoOut
from api.errors import ApiError
from api.routes.hazards import AsOf, aware
from api.training_schemas import TimerScore
from projections import scorecards, urgent
from projections.scorecards import DEPARTMENT_METRICS
from projections.timefmt import iso

router = APIRouter(prefix="/api/v1/scorecards", tags=["scorecards"])

MONTH = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")


@router.get(
    "",
    response_model=Scorecard,
    summary="A month's scorecard per department and per person (optionally as of an instant)",
)
def get_scorecard(
    services: ServicesDep,
    principal: PrincipalDep,
    month: Annotated[str, Query(description="YYYY-MM (calendar month at the site)")],
    as_of: AsOf = None,
) -> Scorecard:
    if not MONTH.match(month):
        raise ApiError(
            422,
            "invalid_input",
            "month must be YYYY-MM",
            "月份格式应为 YYYY-MM",
            fields=[{"field": "month", "en": "must be YYYY-MM", "zh": "格式应为 YYYY-MM"}],
        )
    when = aware(as_of, services)
    data = scorecards.scorecard(services.store, month, when)
    response_times = urgent.response_times(services.store, month, when)
    org = services.app.org(as_of=when)
    current = services.app.org()
    codes = sorted(set(org.departments) | set(data["departments"]) | set(response_times) - {"-"})
    if not principal.sees_all:
        codes = [c for c in codes if c == principal.department]
    departments = []
    for code in codes:
        score = data["departments"].get(code) or scorecards.empty_score()
        dept = org.department(code) or current.department(code) or {}
        departments.append(
            DepartmentScore(
                department=code,
                name_zh=dept.get("name_zh"),
                **{metric: score[metric] for metric in DEPARTMENT_METRICS},
                vetoed=score["vetoed"],
                vetoed_by=[
                    VetoOut(**veto, link=f"/api/v1/cases/{veto['case_id']}")
                    for veto in score["vetoed_by"]
                ],
                response={
                    timer: TimerScore(**figures)
                    for timer, figures in response_times.get(code, {}).items()
                },
            )
        )
    people = []
    for pid, score in sorted(data["people"].items()):
        person = org.person(pid) or current.person(pid) or {}
        if not principal.sees_all and (
            principal.department is None or person.get("department") != principal.department
        ):
            continue
        people.append(
            PersonScore(
                person=pid,
                name=person.get("name"),
                department=person.get("department"),
                violations=score["violations"],
                cases=score["cases"],
            )
        )
    return Scorecard(month=month, as_of=iso(when), departments=departments, people=people)
