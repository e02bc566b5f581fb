"""Findings: filing, the loop's commands, the item, its history and lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response

from api.auth import Principal, PrincipalDep, ServicesDep
from api.errors import ApiError, forbidden
from api.schemas import (
    Clean,
    CommandDone,
    Extension,
    ExtensionDecision,
    FiledOut,
    FileHazard,
    FixOnSpot,
    HazardOut,
    HistoryEntry,
    Instant,
    ItemList,
    ListItem,
    Merge,
    Notice,
    NoticeOut,
    Recheck,
    Screen,
    Submit,
    TimerOut,
    Void,
)
from api.services import Services
from api.training_schemas import Respond
from domain.application import CommandResult
from domain.errors import NotFound
from domain.hazard import STATES, Hazard
from projections import boards, timeline
from projections.describe import jsonable
from projections.timefmt import iso

router = APIRouter(prefix="/api/v1/hazards", tags=["hazards"])

IfMatch = Annotated[
    str | None,
    Header(description="the version you last saw; a different current version gives 409"),
]
AsOf = Annotated[Instant | None, Query(description="answer as the system held it at this instant")]
FILERS_FOR_OTHERS = frozenset({"admin", "info_office"})
MAX_LIMIT = 200


def aware(instant: datetime | None, services: Services) -> datetime | None:
    """Instants without an offset are read in the site's timezone."""
    if instant is None or instant.tzinfo is not None:
        return instant
    return instant.replace(tzinfo=services.policy.zone)


def expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit()):  # "²".isdigit() is true, int("²") fails
        raise ApiError(
            422,
            "invalid_input",
            "If-Match must be a version number",
            "If-Match 必须是版本号",
            fields=[{"field": "If-Match", "en": "must be a version number", "zh": "必须是版本号"}],
        )
    return int(text)


def load(services: Services, principal: Principal, hazard_id: UUID, command: str) -> Hazard:
    hazard = services.app.hazard(hazard_id)
    principal.require(command, hazard)
    return hazard


def done(services: Services, result: CommandResult, response: Response) -> CommandDone:
    services.caught_up(result.position)
    response.headers["ETag"] = f'"{result.version}"'
    return CommandDone(id=result.id, state=result.state, version=result.version)


def hazard_out(
    hazard: Hazard, principal: Principal, now: datetime, as_of: datetime | None = None
) -> HazardOut:
    notice = hazard.notice
    return HazardOut(
        id=hazard.id,
        number=hazard.number,
        kind=hazard.kind,
        state=hazard.state,
        grade=hazard.grade,
        department=hazard.department,
        description=hazard.description,
        location=hazard.location,
        reporter=hazard.reporter,
        reporter_role=hazard.reporter_role,
        occurred_at=iso(hazard.reported_at) or "",
        filed_at=iso(hazard.created_on) or "",
        deadline=iso(hazard.deadline),
        original_deadline=iso(hazard.original_deadline),
        overdue_periods=hazard.overdue_periods,
        escalation_level=hazard.escalation_level,
        notice=NoticeOut(**jsonable(notice)) if notice else None,
        pending_extension=jsonable(hazard.pending_extension),
        evidence=list(hazard.evidence),
        merged_into=UUID(hazard.merged_into) if hazard.merged_into else None,
        duplicates=[UUID(d) for d in hazard.duplicates],
        closed_at=iso(hazard.closed_at),
        client_ref=hazard.client_ref,
        allowed=[
            c for c in hazard.allowed_commands(now) if as_of is None and principal.may(c, hazard)
        ],
        version=hazard.version,
        as_of=iso(as_of),
        urgent=hazard.urgent,
        timers=[
            TimerOut(
                name=t["name"],
                due=iso(t["due"]) or "",
                met_at=iso(t["met_at"]),
                escalated=bool(t["missed"]),
            )
            for t in hazard.timers
        ],
        sources=jsonable(hazard.sources),
    )


# -- filing and reading ------------------------------------------------------------------------


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="your own key for this filing: a retry with the same key and the same body"
        " answers 200 with the first filing; the same key with a different body is refused"
        " with 422",
    ),
    Clean,
]


@router.post(
    "",
    status_code=201,
    response_model=FiledOut,
    responses={
        200: {
            "model": FiledOut,
            "description": "a repeat of an earlier client_ref or Idempotency-Key",
        }
    },
    summary="File a finding (hazard, violation or problem)",
)
def file_hazard(
    body: FileHazard,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> FiledOut:
    if principal.role == "auditor":
        raise forbidden("auditors have read-only access", "审计人员只有只读权限")
    if body.reporter != principal.actor and principal.role not in FILERS_FOR_OTHERS:
        raise forbidden("you can only file as yourself", "只能以本人名义登记")
    occurred_at = aware(body.occurred_at, services)
    assert occurred_at is not None
    result = services.app.file_hazard(
        kind=body.kind,
        description=body.description,
        location=body.location,
        reporter=body.reporter,
        reporter_role=body.reporter_role,
        occurred_at=occurred_at,
        department=body.department,
        client_ref=body.client_ref,
        idempotency_key=idempotency_key,
        urgent=body.urgent,
        actor=principal.actor,
        now=services.now(),
    )
    services.caught_up(result.position)
    if not result.created:
        response.status_code = 200
    response.headers["ETag"] = f'"{result.version}"'
    assert result.number is not None
    return FiledOut(id=result.id, number=result.number, state=result.state, version=result.version)


@router.get("", response_model=ItemList, summary="List findings, newest first")
def list_hazards(
    services: ServicesDep,
    principal: PrincipalDep,
    department: Annotated[str | None, Query(max_length=100), Clean] = None,
    state: Annotated[str | None, Query(description=" | ".join(STATES))] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=40), Clean] = None,
    as_of: AsOf = None,
    late: Annotated[
        bool | None, Query(description="only findings recorded long after they occurred")
    ] = None,
) -> ItemList:
    if state is not None and state not in STATES:
        raise ApiError(
            422,
            "invalid_input",
            f"state must be one of {', '.join(STATES)}",
            f"状态取值无效，应为：{'、'.join(STATES)}",
            fields=[{"field": "state", "en": "unknown state", "zh": "未知状态"}],
        )
    before: int | None = None
    if cursor is not None:
        # ASCII digits that fit a 64-bit integer (the store's column)
        if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
            raise ApiError(
                422,
                "invalid_input",
                "cursor is not one this server gave out",
                "游标无效",
                fields=[{"field": "cursor", "en": "invalid cursor", "zh": "游标无效"}],
            )
        before = int(cursor)
    when = aware(as_of, services)
    items, next_seq = scoped_items(
        services,
        principal,
        department=department,
        state=state,
        overdue=overdue,
        limit=limit,
        before_seq=before,
        as_of=when,
        late=late,
    )
    return ItemList(
        items=[list_item(item, services) for item in items],
        next_cursor=str(next_seq) if next_seq is not None else None,
        as_of=iso(when),
    )


def scoped_items(
    services: Services, principal: Principal, **query: Any
) -> tuple[list[dict[str, Any]], int | None]:
    """The list query within what the caller may see (also used by the exports)."""
    late = query.pop("late", None)
    scope, reporter = principal.item_scope()
    return boards.list_items(
        services.store,
        departments=scope,
        reporter=reporter,
        late_after_seconds=services.late_after_seconds if late else None,
        **query,
    )


def list_item(item: dict[str, Any], services: Services) -> ListItem:
    return ListItem(**item, late=item["delay_seconds"] > services.late_after_seconds)


@router.get("/{hazard_id}", response_model=HazardOut, summary="One finding (optionally as of)")
def get_hazard(
    hazard_id: UUID,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    as_of: AsOf = None,
) -> HazardOut:
    when = aware(as_of, services)
    hazard = services.app.hazard(hazard_id, as_of=when)
    current = hazard if when is None else services.app.hazard(hazard_id)
    if not (principal.can_see(hazard) or principal.can_see(current)):
        raise forbidden()
    response.headers["ETag"] = f'"{hazard.version}"'
    return hazard_out(hazard, principal, services.now(), when)


@router.get(
    "/{hazard_id}/history",
    response_model=list[HistoryEntry],
    summary="Every event of a finding: type, actor, occurred and recorded times",
)
def get_history(
    hazard_id: UUID, services: ServicesDep, principal: PrincipalDep, as_of: AsOf = None
) -> list[HistoryEntry]:
    hazard = services.app.hazard(hazard_id)
    if not principal.can_see(hazard):
        raise forbidden()
    entries = timeline.history(services.store, str(hazard_id), aware(as_of, services))
    if not entries and as_of is None:
        raise NotFound("hazard", str(hazard_id))
    return [HistoryEntry(**entry) for entry in entries]


# -- the loop's commands -----------------------------------------------------------------------


def _command(
    command: str,
    services: Services,
    principal: Principal,
    hazard_id: UUID,
    if_match: str | None,
    response: Response,
    run: Callable[[datetime, int | None], CommandResult],
) -> CommandDone:
    version = expected_version(if_match)
    load(services, principal, hazard_id, command)
    return done(services, run(services.now(), version), response)


@router.post("/{hazard_id}/screen", response_model=CommandDone, summary="Grade and assign")
def screen(
    hazard_id: UUID,
    body: Screen,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        "screen",
        services,
        principal,
        hazard_id,
        if_match,
        response,
        lambda now, v: services.app.screen(
            hazard_id,
            grade=body.grade,
            department=body.department,
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )


@router.post("/{hazard_id}/fix-on-spot", response_model=CommandDone, summary="Fixed on the spot")
def fix_on_spot(
    hazard_id: UUID,
    body: FixOnSpot,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        "fix-on-spot",
        services,
        principal,
        hazard_id,
        if_match,
        response,
        lambda now, v: services.app.fix_on_spot(
            hazard_id, note=body.note, actor=principal.actor, now=now, expected_version=v
        ),
    )


@router.post(
    "/{hazard_id}/respond",
    response_model=CommandDone,
    summary="An urgent item's response step done (e.g. acknowledged by the dispatch room)",
)
def respond(
    hazard_id: UUID,
    body: Respond,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        "respond",
        services,
        principal,
        hazard_id,
        if_match,
        response,
        lambda now, v: services.app.respond(
            hazard_id,
            step=body.step,
            note=body.note,
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )


@router.post("/{hazard_id}/void", response_model=CommandDone, summary="Void (not a finding)")
def void(
    hazard_id: UUID,
    body: Void,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        "void",
        services,
        principal,
        hazard_id,
        if_match,
        response,
        lambda now, v: services.app.void(
            hazard_id, reason=body.reason, actor=principal.actor, now=now, expected_version=v
        ),
    )


@router.post(
    "/{hazard_id}/merge", response_model=CommandDone, summary="Merge into another (duplicate)"
)
def merge(
    hazard_id: UUID,
    body: Merge,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        "merge",
        services,
        principal,
        hazard_id,
        if_match,
        response,
        lambda now, v: services.app.merge(
            hazard_id, into=body.into, actor=principal.actor, now=now, expected_version=v
        ),
    )


@router.post(
    "/{hazard_id}/notice",
    response_model=CommandDone,
    summary="Issue the rectification notice (five-point order)",
)
def notice(
    hazard_id: UUID,
    body: Notice,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        "notice",
        services,
        principal,
        hazard_id,
        if_match,
        response,
        lambda now, v: services.app.issue_notice(
            hazard_id,
            responsible_person=body.responsible_person,
            measures=body.measures,
            funds=body.funds,
            deadline=aware(body.deadline, services),
            contingency=body.contingency,
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )


@router.post(
    "/{hazard_id}/extension", response_model=CommandDone, summary="Request a later deadline"
)
def request_extension(
    hazard_id: UUID,
    body: Extension,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    requested = aware(body.requested_deadline, services)
    assert requested is not None
    return _command(
        "extension",
        services,
        principal,
        hazard_id,
        if_match,
        response,
        lambda now, v: services.app.request_extension(
            hazard_id,
            requested_deadline=requested,
            reason=body.reason,
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )


@router.post(
    "/{hazard_id}/extension/decision",
    response_model=CommandDone,
    summary="Grant or deny the pending extension",
)
def decide_extension(
    hazard_id: UUID,
    body: ExtensionDecision,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        "extension/decision",
        services,
        principal,
        hazard_id,
        if_match,
        response,
        lambda now, v: services.app.decide_extension(
            hazard_id,
            granted=body.granted,
            note=body.note,
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )


@router.post(
    "/{hazard_id}/submit", response_model=CommandDone, summary="Submit rectification evidence"
)
def submit(
    hazard_id: UUID,
    body: Submit,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        "submit",
        services,
        principal,
        hazard_id,
        if_match,
        response,
        lambda now, v: services.app.submit(
            hazard_id,
            evidence=body.evidence,
            note=body.note,
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )


@router.post(
    "/{hazard_id}/recheck",
    response_model=CommandDone,
    summary="Recheck: pass closes the item, fail reopens it",
)
def recheck(
    hazard_id: UUID,
    body: Recheck,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommandDone:
    return _command(
        "recheck",
        services,
        principal,
        hazard_id,
        if_match,
        response,
        lambda now, v: services.app.recheck(
            hazard_id,
            passed=body.passed,
            note=body.note,
            deadline=aware(body.deadline, services),
            actor=principal.actor,
            now=now,
            expected_version=v,
        ),
    )
