"""Accountability cases (问责): open, the four-nots steps, close behind the gates.

Who may see a case: the info office, the safety department, the leaders (deputy chiefs,
leaders, the mine chief), the auditor, the administrator, and the people of the department
concerned. Who may act on one: the info office, the safety department and the administrator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api.auth import Principal, PrincipalDep, ServicesDep
from api.case_schemas import (
    CaseList,
    CaseListItem,
    CaseOpened,
    CaseOut,
    Cause,
    Education,
    Measure,
    MeasureOut,
    OpenCase,
    Penalty,
    Removal,
    Responsibility,
)
from api.errors import ApiError, forbidden
from api.routes.hazards import AsOf, IfMatch, aware, expected_version
from api.schemas import CommandDone, HistoryEntry
from api.services import Services
from domain.case import CASE_STATES, Case, GatesOpen
from domain.errors import NotFound
from domain.organisation import Organisation
from projections import cases as case_views
from projections.describe import describe, jsonable
from projections.timefmt import iso

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])

#: roles that see every case (besides the administrator)
CASE_READERS = frozenset(
    {"info_office", "safety_dept", "deputy_chief", "leader", "mine_chief", "auditor"}
)
#: roles that run the case's commands (besides the administrator)
CASE_ACTORS = frozenset({"info_office", "safety_dept"})
MAX_LIMIT = 200


def sees_all_cases(principal: Principal) -> bool:
    return principal.is_admin or principal.role in CASE_READERS


def may_see(principal: Principal, case: Case) -> bool:
    return sees_all_cases(principal) or (
        principal.department is not None and principal.department == case.department
    )


def require_case_actor(principal: Principal) -> None:
    if not (principal.is_admin or principal.role in CASE_ACTORS):
        raise forbidden(
            f"your role ({principal.role}) may not act on accountability cases",
            f"您的角色（{principal.role}）无权办理问责案件",
        )


def case_out(
    services: Services, case: Case, principal: Principal, as_of: datetime | None = None
) -> CaseOut:
    org = services.app.org()
    gates = services.app.case_gates(case, as_of)
    states = services.app.measure_states(case, as_of)
    held = all(g.held for g in gates.values())
    may_act = as_of is None and (principal.is_admin or principal.role in CASE_ACTORS)
    data: dict[str, Any] = dict(
        id=case.id,
        state=case.state,
        kind=case.kind,
        description=case.description,
        location=case.location,
        department=case.department,
        occurred_at=iso(case.incident_at) or "",
        opened_at=iso(case.created_on) or "",
        direct_person=case.direct_person,
        findings=[UUID(f) for f in case.findings],
        source_hazard=UUID(case.source_hazard) if case.source_hazard else None,
        proposal=[
            {
                **jsonable(p),
                "status": "confirmed"
                if p["person"] in case.responsible
                else "removed"
                if p["person"] in case.removed
                else "proposed",
            }
            for p in case.proposal
        ],
        responsible=[
            {
                "person": r["person"],
                "name": _name(org, r["person"]),
                "role": r["role"],
                "basis": r["basis"],
                "confirmed_by": r["by"],
                "confirmed_at": iso(r["at"]),
            }
            for r in case.responsible.values()
        ],
        removed=[
            {
                "person": r["person"],
                "name": _name(org, r["person"]),
                "reason": r["reason"],
                "removed_by": r["by"],
                "removed_at": iso(r["at"]),
            }
            for r in case.removed.values()
        ],
        cause=(
            {
                "analysis": case.cause["analysis"],
                "recorded_by": case.cause["by"],
                "recorded_at": iso(case.cause["at"]),
            }
            if case.cause
            else None
        ),
        penalties=[
            {
                "person": p["person"],
                "name": _name(org, p["person"]),
                "kind": p["kind"],
                "amount": None if p["amount"] is None else str(p["amount"]),
                "veto": p["veto"],
                "period": p["period"],
                "decided_by": p["by"],
                "decided_at": iso(p["at"]),
            }
            for p in case.penalties.values()
        ],
        measures=[{**jsonable(m), "state": states.get(m["hazard_id"])} for m in case.measures],
        education=[
            {
                "topic": e["topic"],
                "held_at": iso(e["held_at"]),
                "attendees": e["attendees"],
                "recorded_by": e["by"],
            }
            for e in case.education
        ],
        gates={name: gate.as_dict() for name, gate in gates.items()},
        closable=case.is_open and held,
        closed_at=iso(case.closed_at),
        allowed=case.allowed_commands(held) if may_act else [],
        version=case.version,
        as_of=iso(as_of),
    )
    return CaseOut.model_validate(data)


def _name(org: Organisation, person: str) -> str:
    record = org.person(person)
    return str(record["name"]) if record else person


def _done(services: Services, result: Any, response: Response) -> CommandDone:
    services.caught_up(result.position)
    response.headers["ETag"] = f'"{result.version}"'
    return CommandDone(id=result.id, state=result.state, version=result.version)


def _command(
    services: Services,
    principal: Principal,
    case_id: UUID,
    if_match: str | None,
    response: Response,
    run: Callable[[datetime, int | None], Any],
) -> CommandDone:
    version = expected_version(if_match)
    case = services.app.case(case_id)
    if not may_see(principal, case):
        raise forbidden()
    require_case_actor(principal)
    return _done(services, run(services.now(), version), response)


# -- opening and reading -----------------------------------------------------------------------


@router.post("", status_code=201, response_model=CaseOpened, summary="Open a case by hand")
def open_case(
    body: OpenCase, services: ServicesDep, principal: PrincipalDep, response: Response
) -> CaseOpened:
    require_case_actor(principal)
    occurred_at = aware(body.occurred_at, services)
    assert occurred_at is not None
    result = services.app.open_case(
        kind=body.kind,
        description=body.description,
        location=body.location,
        department=body.department,
        occurred_at=occurred_at,
        direct_person=body.direct_person,
        findings=body.findings,
        actor=principal.actor,
        now=services.now(),
    )
    services.caught_up(result.position)
    response.headers["ETag"] = f'"{result.version}"'
    return CaseOpened(id=result.id, state=result.state, version=result.version)


@router.get("", response_model=CaseList, summary="List cases, newest first")
def list_cases(
    services: ServicesDep,
    principal: PrincipalDep,
    department: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[str | None, Query(description=" | ".join(CASE_STATES))] = None,
    hazard: Annotated[UUID | None, Query(description="cases linked to this item")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> CaseList:
    if state is not None and state not in CASE_STATES:
        raise ApiError(
            422,
            "invalid_input",
            f"state must be one of {', '.join(CASE_STATES)}",
            f"状态取值无效，应为：{'、'.join(CASE_STATES)}",
            fields=[{"field": "state", "en": "unknown state", "zh": "未知状态"}],
        )
    if cursor is not None and not cursor.isdigit():
        raise ApiError(
            422,
            "invalid_input",
            "cursor is not one this server gave out",
            "游标无效",
            fields=[{"field": "cursor", "en": "invalid cursor", "zh": "游标无效"}],
        )
    scope = None
    if not sees_all_cases(principal):
        scope = [principal.department] if principal.department else []
    items, next_seq = case_views.list_cases(
        services.store,
        department=department,
        departments=scope,
        state=state,
        hazard=str(hazard) if hazard else None,
        limit=limit,
        before_seq=int(cursor) if cursor else None,
    )
    return CaseList(
        items=[CaseListItem(**item) for item in items],
        next_cursor=str(next_seq) if next_seq is not None else None,
    )


@router.get(
    "/{case_id}",
    response_model=CaseOut,
    summary="One case: proposal, responsible people, penalties, measures and the four gates",
)
def get_case(
    case_id: UUID,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    as_of: AsOf = None,
) -> CaseOut:
    when = aware(as_of, services)
    case = services.app.case(case_id, as_of=when)
    if not may_see(principal, case):
        raise forbidden()
    response.headers["ETag"] = f'"{case.version}"'
    return case_out(services, case, principal, when)


@router.get(
    "/{case_id}/history",
    response_model=list[HistoryEntry],
    summary="Every event of a case: type, actor, occurred and recorded times",
)
def get_history(
    case_id: UUID, services: ServicesDep, principal: PrincipalDep
) -> list[HistoryEntry]:
    case = services.app.case(case_id)
    if not may_see(principal, case):
        raise forbidden()
    entries = []
    for event in services.app.case_events(case_id):
        entry = describe(event)
        entries.append(HistoryEntry(**entry, version=event.originator_version))
    if not entries:
        raise NotFound("case", str(case_id))
    return entries


# -- the steps ---------------------------------------------------------------------------------


@router.post(
    "/{case_id}/proposal",
    response_model=CommandDone,
    summary="Propose the responsibility chain again (e.g. after site visits were imported)",
)
def refresh_proposal(
    case_id: UUID,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        services,
        principal,
        case_id,
        if_match,
        response,
        lambda now, v: services.app.refresh_proposal(
            case_id, actor=principal.actor, now=now, expected_version=v
        ),
    )


@router.post("/{case_id}/cause", response_model=CommandDone, summary="Record the cause analysis")
def record_cause(
    case_id: UUID,
    body: Cause,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        services,
        principal,
        case_id,
        if_match,
        response,
        lambda now, v: services.app.record_cause(
            case_id, analysis=body.analysis, actor=principal.actor, now=now, expected_version=v
        ),
    )


@router.post(
    "/{case_id}/responsibility",
    response_model=CommandDone,
    summary="Confirm a proposed person (role and basis default to the proposal's) or add one",
)
def confirm_responsibility(
    case_id: UUID,
    body: Responsibility,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        services,
        principal,
        case_id,
        if_match,
        response,
        lambda now, v: services.app.confirm_responsibility(
            case_id,
            person=body.person,
            role=body.role,
            basis=body.basis,
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )


@router.post(
    "/{case_id}/responsibility/{person}/remove",
    response_model=CommandDone,
    summary="Remove a proposed or confirmed person, with the reason",
)
def remove_responsibility(
    case_id: UUID,
    person: str,
    body: Removal,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        services,
        principal,
        case_id,
        if_match,
        response,
        lambda now, v: services.app.remove_responsibility(
            case_id,
            person=person,
            reason=body.reason,
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )


@router.post(
    "/{case_id}/penalties",
    response_model=CommandDone,
    summary="Decide a confirmed person's penalty (a later decision replaces it); veto optional",
)
def decide_penalty(
    case_id: UUID,
    body: Penalty,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        services,
        principal,
        case_id,
        if_match,
        response,
        lambda now, v: services.app.decide_penalty(
            case_id,
            person=body.person,
            kind=body.kind,
            amount=body.amount,
            veto=body.veto,
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )


@router.post(
    "/{case_id}/measures",
    status_code=201,
    response_model=MeasureOut,
    summary="Assign a measure: files, screens and notices a linked item in the normal loop",
)
def assign_measure(
    case_id: UUID,
    body: Measure,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeasureOut:
    version = expected_version(if_match)
    case = services.app.case(case_id)
    if not may_see(principal, case):
        raise forbidden()
    require_case_actor(principal)
    deadline = aware(body.deadline, services)
    assert deadline is not None
    result = services.app.assign_measure(
        case_id,
        measures=body.measures,
        responsible_person=body.responsible_person,
        department=body.department,
        deadline=deadline,
        actor=principal.actor,
        now=services.now(),
        expected_version=version,
    )
    services.caught_up(result.case.position)
    response.headers["ETag"] = f'"{result.case.version}"'
    return MeasureOut(
        hazard_id=result.hazard_id,
        number=result.number,
        state=result.state,
        version=result.version,
        case_id=result.case.id,
        case_state=result.case.state,
        case_version=result.case.version,
    )


@router.post(
    "/{case_id}/education",
    response_model=CommandDone,
    summary="Record an education session: topic, when, attendees",
)
def record_education(
    case_id: UUID,
    body: Education,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    held_at = aware(body.held_at, services)
    assert held_at is not None
    return _command(
        services,
        principal,
        case_id,
        if_match,
        response,
        lambda now, v: services.app.record_education(
            case_id,
            topic=body.topic,
            held_at=held_at,
            attendees=body.attendees,
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )


@router.post(
    "/{case_id}/close",
    response_model=CommandDone,
    summary="Close the case: 409 {error, gates, open} while any of the four gates is open",
    responses={409: {"description": "a gate is open (or the case changed, or is closed)"}},
)
def close_case(
    case_id: UUID,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    def run(now: datetime, version: int | None) -> Any:
        try:
            return services.app.close_case(
                case_id, actor=principal.actor, now=now, expected_version=version
            )
        except GatesOpen as e:
            raise ApiError(
                409,
                e.code,
                e.en,
                e.zh,
                gates={name: gate.as_dict() for name, gate in e.gates.items()},
                open=e.open,
            ) from None

    return _command(services, principal, case_id, if_match, response, run)
