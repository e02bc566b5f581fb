"""The office's screening queue, department boards, and the look back (as of an instant)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from api.errors import ApiError
from api.routes.departments import current_missing
from api.routes.inbox import READ_OTHERS
from api.web import labels
from api.web.core import Ctx, UserCtx
from api.web.items import _parse_instant
from domain.errors import NotFound
from domain.hazard import COMMANDS_BY_STATE, GRADES, KINDS, OPEN_STATES, STATES
from projections import boards

router = APIRouter(include_in_schema=False)

QUEUE_LIMIT = 100


@router.get("/queue")
def queue(ctx: UserCtx) -> Response:
    if not (ctx.user.is_admin or ctx.user.role == "info_office"):
        raise ApiError(
            403, "forbidden", "the queue is the information office's", "筛查队列仅限信息办使用"
        )
    reported, _ = boards.list_items(ctx.services.store, state="REPORTED", limit=QUEUE_LIMIT)
    screened, _ = boards.list_items(ctx.services.store, state="SCREENED", limit=QUEUE_LIMIT)
    org = ctx.org()
    now = ctx.services.now()
    people_by_department: dict[str, list[dict[str, Any]]] = {}
    for p in sorted(org.people.values(), key=lambda p: p["id"]):
        people_by_department.setdefault(p.get("department") or "", []).append(p)
    for item in screened:
        item["default_deadline"] = ctx.services.policy.default_deadline(
            item["kind"], item["grade"], now
        )
        item["unit_head"] = (org.department(item["department"] or "") or {}).get("unit_head")
    return ctx.render(
        "queue.html",
        reported=list(reversed(reported)),
        screened=list(reversed(screened)),
        departments=sorted(org.departments.values(), key=lambda d: d["code"]),
        people_by_department=people_by_department,
        limit=QUEUE_LIMIT,
    )


@router.get("/boards")
def boards_overview(ctx: UserCtx) -> Response:
    principal = ctx.user
    if not principal.sees_all:
        if principal.department:
            return ctx.redirect(f"/boards/{quote(principal.department)}")
        return ctx.redirect("/mine")
    rows = []
    for code, record in sorted(ctx.org().departments.items()):
        data = boards.board(ctx.services.store, code)
        items = data["items"]
        rows.append(
            {
                "code": code,
                "name": ctx.lang.department(record, code),
                "open": len(items),
                "overdue": sum(1 for i in items if i["state"] == "OVERDUE"),
                "level": max((i["escalation_level"] for i in items), default=0),
                "submitted": data["counts"].get("SUBMITTED", 0),
            }
        )
    return ctx.render("boards.html", rows=rows)


def _filters(
    items: list[dict[str, Any]],
    state: str | None,
    grade: str | None,
    kind: str | None,
    level: int | None,
    q: str | None,
) -> list[dict[str, Any]]:
    def keep(i: dict[str, Any]) -> bool:
        if state and i["state"] != state:
            return False
        if grade and i["grade"] != grade:
            return False
        if kind and i["kind"] != kind:
            return False
        if level and i["escalation_level"] < level:
            return False
        if q:
            haystack = f"{i['number']} {i['location']} {i['description']}".lower()
            if q.lower() not in haystack:
                return False
        return True

    return [i for i in items if keep(i)]


def _actions(ctx: Ctx, item: dict[str, Any]) -> list[tuple[str, str]]:
    if ctx.user.read_only:
        return []
    return [
        (command, ctx._(labels.COMMANDS[command]))
        for command in COMMANDS_BY_STATE[item["state"]]
        if ctx.user.may_on(command, item["department"], None)
    ]


@router.get("/boards/{code}")
def department_board(
    ctx: UserCtx,
    code: str,
    state: str | None = None,
    grade: str | None = None,
    kind: str | None = None,
    level: int | None = None,
    q: str | None = None,
    closed: bool = False,
    as_of: str | None = None,
) -> Response:
    record = ctx.org().department(code)
    if record is None or not ctx.user.can_see_department(code):
        # no hint whether another department exists
        raise NotFound("department", code)
    when = _parse_instant(ctx, as_of) if as_of else None
    include_closed = closed or (state is not None and state not in OPEN_STATES)
    # as of an instant: the boards read model's temporal table, as the JSON API answers
    data = boards.board(ctx.services.store, code, include_closed=include_closed, as_of=when)
    items = _filters(
        data["items"],
        state if state in STATES else None,
        grade if grade in GRADES else None,
        kind if kind in KINDS else None,
        level,
        q,
    )
    for item in items:
        item["actions"] = [] if when else _actions(ctx, item)
    return ctx.render(
        "board.html",
        code=code,
        name=ctx.lang.department(record, code),
        counts=data["counts"],
        items=items,
        as_of=when,
        missing_checklists=[] if when else current_missing(ctx.services, code),
        filters={
            "state": state or "",
            "grade": grade or "",
            "kind": kind or "",
            "level": level or "",
            "q": q or "",
            "closed": closed,
        },
        labels=labels,
    )


@router.get("/audit")
def look_back(
    ctx: UserCtx,
    at: str | None = None,
    department: str | None = None,
    number: str | None = None,
) -> Response:
    now = ctx.services.now()
    visible = [
        (code, ctx.lang.department(record, code))
        for code, record in sorted(ctx.org().departments.items())
        if ctx.user.can_see_department(code)
    ]
    when = _parse_instant(ctx, at) if at else None
    if when is not None and number:
        found = boards.find_by_number(ctx.services.store, number.strip())
        if found is not None and not ctx.user.can_see(ctx.services.app.hazard(UUID(found))):
            found = None  # the same answer as for a number that does not exist
        if found is None:
            return ctx.render(
                "audit.html",
                status=404,
                departments=visible,
                reads_inboxes=_may_read_inboxes(ctx),
                at=ctx.lang.input_value(when),
                error=ctx._("No item numbered %(number)s.") % {"number": number},
            )
        return ctx.redirect(f"/items/{found}?as_of={quote(when.isoformat())}")
    if when is not None and department:
        return ctx.redirect(f"/boards/{quote(department)}?as_of={quote(when.isoformat())}")
    return ctx.render(
        "audit.html",
        departments=visible,
        reads_inboxes=_may_read_inboxes(ctx),
        at=ctx.lang.input_value(when or now - timedelta(days=1)),
        error=None,
    )


def _may_read_inboxes(ctx: Ctx) -> bool:
    """Whether the look-back page offers anyone's inbox (the inbox API's rule)."""
    return ctx.user.is_admin or ctx.user.role in READ_OTHERS
