"""Pre-shift hazard identification: checklist templates (versioned) and the shifts' runs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api.auth import DEPARTMENT_ACTORS, PrincipalDep, ServicesDep
from api.errors import forbidden
from api.routes.hazards import AsOf, aware
from api.services import Services
from api.training_schemas import (
    ChecklistRunIn,
    ChecklistRunOut,
    ChecklistRunRow,
    ChecklistTemplateIn,
    ChecklistTemplateOut,
    Created,
    MissingRun,
)
from domain.checklists import RunLine, RunResult
from domain.errors import NotFound
from projections import checklists

router = APIRouter(prefix="/api/v1", tags=["checklists"])

#: who defines checklist templates
TEMPLATE_KEEPERS = frozenset({"admin", "info_office", "safety_dept"})
#: who records a run for any department (others: the unit's own people)
RUN_RECORDERS = frozenset({"admin", "info_office"})


@router.post(
    "/checklist-templates",
    status_code=201,
    response_model=Created,
    responses={200: {"model": Created, "description": "a new version, or nothing new"}},
    summary="Define a checklist template, or add a version of it (unchanged: nothing new)",
)
def define_template(
    body: ChecklistTemplateIn, services: ServicesDep, principal: PrincipalDep, response: Response
) -> Created:
    if principal.role not in TEMPLATE_KEEPERS:
        raise forbidden()
    result = services.app.define_checklist_template(
        body.code,
        body.model_dump(exclude={"code"}),
        actor=principal.actor,
        now=services.now(),
    )
    services.caught_up(result.position)
    if not result.created:
        response.status_code = 200
    return Created(id=result.id, version=result.version)


@router.get(
    "/checklist-templates",
    response_model=list[ChecklistTemplateOut],
    summary="Every checklist template's current version",
)
def list_templates(services: ServicesDep, principal: PrincipalDep) -> list[ChecklistTemplateOut]:
    return [ChecklistTemplateOut(**t) for t in checklists.templates(services.store)]


@router.get(
    "/checklist-templates/{code}",
    response_model=list[ChecklistTemplateOut],
    summary="Every version of a checklist template, oldest first",
)
def template_versions(
    code: str, services: ServicesDep, principal: PrincipalDep
) -> list[ChecklistTemplateOut]:
    versions = checklists.template_versions(services.store, code)
    if not versions:
        raise NotFound("checklist template", code)
    return [ChecklistTemplateOut(**t) for t in versions]


@router.post(
    "/checklist-runs",
    status_code=201,
    response_model=ChecklistRunOut,
    responses={200: {"model": ChecklistRunOut, "description": "this shift's run, recorded before"}},
    summary="Record a shift's pre-shift checklist run; each 'not ok' line becomes a finding",
)
def record_run(
    body: ChecklistRunIn, services: ServicesDep, principal: PrincipalDep, response: Response
) -> ChecklistRunOut:
    if principal.role not in RUN_RECORDERS and not (
        principal.role in DEPARTMENT_ACTORS and principal.department == body.department
    ):
        raise forbidden()
    result = record_checklist(services, body, principal.actor)
    if not result.created:
        response.status_code = 200
    return ChecklistRunOut(id=result.id, findings=result.findings)


def record_checklist(services: Services, body: ChecklistRunIn, actor: str) -> RunResult:
    """Record ``body`` as ``actor`` (the API and the phone form) and wait for the read
    models; raises InvalidCommand as the command does."""
    shift_start = aware(body.shift_start, services)
    assert shift_start is not None
    result = services.app.record_checklist_run(
        template=body.template,
        work_face=body.work_face,
        department=body.department,
        shift_start=shift_start,
        team_leader=body.team_leader,
        lines=[RunLine(line.item, line.ok, line.note) for line in body.lines],
        actor=actor,
        now=services.now(),
    )
    services.caught_up(result.position)
    return result


@router.get(
    "/checklist-runs",
    response_model=list[ChecklistRunRow],
    summary="Checklist runs, latest shift first (a unit's people see their own unit's)",
)
def list_runs(
    services: ServicesDep,
    principal: PrincipalDep,
    department: Annotated[str | None, Query(max_length=100)] = None,
    start: Annotated[AsOf, Query(alias="from", description="shifts from this instant")] = None,
    end: Annotated[AsOf, Query(alias="to", description="shifts up to this instant")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ChecklistRunRow]:
    if not principal.sees_all:
        if principal.department is None or department not in (None, principal.department):
            raise forbidden()
        department = principal.department
    rows = checklists.runs(
        services.store,
        department=department,
        start=aware(start, services),
        end=aware(end, services),
        limit=limit,
    )
    return [ChecklistRunRow(**r) for r in rows]


@router.get(
    "/checklist-runs/missing",
    response_model=list[MissingRun],
    summary="Work faces with no run recorded before a shift of today (site time) that has begun",
)
def missing_runs(
    services: ServicesDep,
    principal: PrincipalDep,
    department: Annotated[str | None, Query(max_length=100)] = None,
) -> list[MissingRun]:
    if not principal.sees_all:
        if principal.department is None or department not in (None, principal.department):
            raise forbidden()
        department = principal.department
    now = services.now()
    shifts = services.policy.shift_starts_around(now, days=0)
    rows = checklists.missing_runs(services.store, shifts, now, department=department)
    return [MissingRun(**r) for r in rows]


@router.get(
    "/checklist-runs/{run_id}",
    response_model=ChecklistRunRow,
    summary="One checklist run",
)
def get_run(run_id: UUID, services: ServicesDep, principal: PrincipalDep) -> ChecklistRunRow:
    run = services.app.checklist_run(run_id)
    if not principal.can_see_department(run.department):
        raise forbidden()
    rows = checklists.runs(services.store, run_id=str(run_id))
    if not rows:
        raise NotFound("checklist run", str(run_id))
    return ChecklistRunRow(**rows[0])
