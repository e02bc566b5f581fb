"""Findings: the filing form (phone first), my findings, item lists, the item page and its
actions, and photos."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.responses import FileResponse, Response

from api.errors import ApiError
from api.routes.cases import CASE_ACTORS, sees_all_cases
from api.routes.hazards import aware
from api.schemas import (
    Extension,
    ExtensionDecision,
    FileHazard,
    FixOnSpot,
    Merge,
    Notice,
    Recheck,
    Screen,
    Submit,
    Void,
)
from api.web import labels
from api.web.core import Ctx, Form, UserCtx, safe_next, text
from api.web.i18n import N_
from api.web.uploads import MAX_PHOTOS, references, strip_references
from domain.application import CommandResult
from domain.errors import DomainError, InvalidCommand, NotFound
from domain.hazard import STATES, Hazard
from projections import boards, photos, timeline
from projections import cases as case_views

router = APIRouter(include_in_schema=False)

LIST_LIMIT = 100
#: the usual next step first on the item page
COMMAND_ORDER = (
    "screen",
    "notice",
    "submit",
    "recheck",
    "extension/decision",
    "extension",
    "fix-on-spot",
    "merge",
    "void",
)


# -- filing ------------------------------------------------------------------------------------


@router.get("/file")
def file_form(ctx: UserCtx) -> Response:
    if ctx.user.read_only:
        raise ApiError(403, "forbidden", "auditors have read-only access", "审计人员只有只读权限")
    return _file_form(ctx, {})


def _file_form(
    ctx: Ctx, values: dict[str, str], error: str | None = None, status: int = 200
) -> Response:
    org = ctx.org()
    departments = sorted(org.departments.values(), key=lambda d: d["code"])
    defaults = {
        "kind": "hazard",
        "occurred_at": ctx.lang.input_value(ctx.services.now()),
        "client_ref": f"web-{uuid.uuid4()}",
        "department": "",
    }
    return ctx.render(
        "file.html",
        status=status,
        values={**defaults, **values},
        departments=departments,
        kinds=labels.KINDS,
        error=error,
    )


@router.post("/file")
def file_finding(ctx: UserCtx, form: Form) -> Response:
    principal = ctx.user
    if principal.read_only:
        raise ApiError(403, "forbidden", "auditors have read-only access", "审计人员只有只读权限")
    values = {k: text(form, k) for k in ("kind", "description", "location", "occurred_at")}
    values["department"] = text(form, "department")
    values["client_ref"] = text(form, "client_ref") or f"web-{uuid.uuid4()}"
    role = (ctx.person or {}).get("role", "worker")
    try:
        photos = _save_photos(ctx, form)
        description = values["description"]
        if photos:
            description = f"{description}\n{' '.join(photos)}"
        body = FileHazard(
            kind=values["kind"],  # type: ignore[arg-type]
            description=description,
            location=values["location"],
            reporter=principal.actor,
            reporter_role=labels.REPORTER_ROLE.get(role, "worker"),  # type: ignore[arg-type]
            occurred_at=values["occurred_at"],  # type: ignore[arg-type]
            department=values["department"] or None,
            client_ref=values["client_ref"],
        )
        occurred_at = aware(body.occurred_at, ctx.services)
        assert occurred_at is not None
        result = ctx.services.app.file_hazard(
            kind=body.kind,
            description=body.description,
            location=body.location,
            reporter=body.reporter,
            reporter_role=body.reporter_role,
            occurred_at=occurred_at,
            department=body.department,
            client_ref=body.client_ref,
            actor=principal.actor,
            now=ctx.services.now(),
        )
    except ValidationError as e:
        return _file_form(ctx, values, _validation_message(ctx, e), 422)
    except InvalidCommand as e:
        return _file_form(ctx, values, ctx.lang.pick(e.en, e.zh), 422)
    ctx.services.caught_up(result.position)
    return ctx.redirect(
        "/mine", ctx._("Filed as %(number)s. Thank you.") % {"number": result.number}
    )


def _save_photos(ctx: Ctx, form: FormData) -> list[str]:
    uploads = [f for f in form.getlist("photos") if isinstance(f, UploadFile) and f.filename]
    if len(uploads) > MAX_PHOTOS:
        raise InvalidCommand(
            "photos", f"at most {MAX_PHOTOS} photos at a time", f"一次最多 {MAX_PHOTOS} 张照片"
        )
    return [ctx.web.photos.save(upload.file) for upload in uploads]


def _validation_message(ctx: Ctx, error: ValidationError) -> str:
    names = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
    return ctx._("Please check: %(fields)s") % {
        "fields": ", ".join(ctx._(FIELD_LABELS.get(n, n)) for n in names)
    }


FIELD_LABELS = {
    "kind": N_("Kind"),
    "description": N_("What did you find?"),
    "location": N_("Where?"),
    "occurred_at": N_("When?"),
    "department": N_("Department"),
    "grade": N_("Grade"),
    "measures": N_("Measures"),
    "funds": N_("Funds (yuan)"),
    "deadline": N_("Deadline"),
    "contingency": N_("Contingency plan"),
    "responsible_person": N_("Responsible person"),
    "requested_deadline": N_("Requested deadline"),
    "reason": N_("Reason"),
    "note": N_("Note"),
    "evidence": N_("Evidence"),
    "into": N_("Merge into (number)"),
    "granted": N_("Decision"),
    "passed": N_("Result"),
}


# -- lists -------------------------------------------------------------------------------------


@router.get("/mine")
def my_findings(ctx: UserCtx) -> Response:
    items, _ = boards.list_items(ctx.services.store, reporter=ctx.user.actor, limit=LIST_LIMIT)
    return ctx.render("mine.html", items=items)


@router.get("/items")
def item_list(
    ctx: UserCtx,
    state: str | None = None,
    department: str | None = None,
    overdue: bool | None = None,
    as_of: str | None = None,
) -> Response:
    departments, reporter = ctx.user.item_scope()
    state = state if state in STATES else None
    when = _parse_instant(ctx, as_of) if as_of else None
    items, _ = boards.list_items(
        ctx.services.store,
        department=department or None,
        departments=departments,
        reporter=reporter,
        state=state,
        overdue=overdue,
        limit=LIST_LIMIT,
        as_of=when,
    )
    query = {"state": state or "", "overdue": "" if overdue is None else str(overdue).lower()}
    query = {
        key: value for key, value in {**query, "department": department or ""}.items() if value
    }
    if overdue:
        items.sort(key=lambda i: (-i["escalation_level"], i["deadline"] or ""))
    title = (
        ctx._("Escalated items")
        if overdue
        else ctx._("Items: %(state)s") % {"state": ctx._(labels.STATES[state])}
        if state
        else ctx._("Items")
    )
    return ctx.render(
        "items.html",
        items=items,
        title=title,
        state=state,
        overdue=overdue,
        department=department or "",
        as_of=when,
        now_link="/items?" + urlencode(query) if query else "/items",
        limit=LIST_LIMIT,
    )


# -- the item page -----------------------------------------------------------------------------


def _load_visible(ctx: Ctx, hazard_id: UUID, as_of: datetime | None = None) -> Hazard:
    hazard = ctx.services.app.hazard(hazard_id, as_of=as_of)
    current = hazard if as_of is None else ctx.services.app.hazard(hazard_id)
    if not (ctx.user.can_see(hazard) or ctx.user.can_see(current)):
        # the same answer as for an unknown id: nothing about other departments' items
        raise NotFound("hazard", str(hazard_id))
    return hazard


@router.get("/items/{hazard_id}")
def item_page(ctx: UserCtx, hazard_id: UUID, as_of: str | None = None) -> Response:
    when = _parse_instant(ctx, as_of) if as_of else None
    hazard = _load_visible(ctx, hazard_id, when)
    return _item(ctx, hazard, when)


def _item(
    ctx: Ctx, hazard: Hazard, as_of: datetime | None, error: str | None = None, status: int = 200
) -> Response:
    now = ctx.services.now()
    principal = ctx.user
    allowed = (
        []
        if as_of is not None or principal.read_only
        else sorted(
            (c for c in hazard.allowed_commands(now) if principal.may(c, hazard)),
            key=lambda c: COMMAND_ORDER.index(c) if c in COMMAND_ORDER else 99,
        )
    )
    history = timeline.history(ctx.services.store, str(hazard.id), as_of)
    department = ctx.org().department(hazard.department or "") or {}
    people = sorted(
        (p for p in ctx.org().people.values() if p.get("department") == hazard.department),
        key=lambda p: p["id"],
    )
    notice_deadline = ctx.services.policy.default_deadline(hazard.kind, hazard.grade, now)
    evidence_text = [e for e in hazard.evidence if not references(e)]
    evidence_photos = [name for e in hazard.evidence for name in references(e)]
    return ctx.render(
        "item.html",
        status=status,
        h=hazard,
        as_of=as_of,
        allowed=allowed,
        history=history,
        error=error,
        description=strip_references(hazard.description),
        photos=references(hazard.description),
        evidence_text=evidence_text,
        evidence_photos=evidence_photos,
        unit_head=department.get("unit_head"),
        people=people,
        departments=sorted(ctx.org().departments.values(), key=lambda d: d["code"]),
        notice_deadline=notice_deadline,
        renotice_deadline=ctx.services.policy.renotice_deadline(now),
        merged_into=_number_of(ctx, hazard.merged_into),
        duplicates=[(d, _number_of(ctx, d)) for d in hazard.duplicates],
        details=lambda entry: _details(ctx, entry),
        linked_cases=_linked_cases(ctx, hazard),
        may_open_case=as_of is None and (principal.is_admin or principal.role in CASE_ACTORS),
    )


def _linked_cases(ctx: Ctx, hazard: Hazard) -> list[dict[str, Any]]:
    """The accountability cases about this item (as a finding or a measure) the reader sees."""
    principal = ctx.user
    scope = None if sees_all_cases(principal) else [principal.department or ""]  # "": none
    cases, _ = case_views.list_cases(
        ctx.services.store, departments=scope, hazard=str(hazard.id), limit=20
    )
    return cases


DETAILS: tuple[tuple[str, str], ...] = (
    ("grade", N_("Grade")),
    ("department", N_("Department")),
    ("responsible_person", N_("Responsible person")),
    ("measures", N_("Measures")),
    ("funds", N_("Funds (yuan)")),
    ("deadline", N_("Deadline")),
    ("contingency", N_("Contingency plan")),
    ("requested_deadline", N_("Requested deadline")),
    ("missed_deadline", N_("Missed deadline")),
    ("opinion", N_("Handling opinion")),
    ("level", N_("Escalation level")),
    ("copies", N_("Copied to")),
    ("evidence", N_("Evidence")),
    ("into_number", N_("Merged into")),
    ("duplicate_number", N_("Duplicate")),
    ("reason", N_("Reason")),
    ("note", N_("Note")),
)


def _details(ctx: Ctx, entry: dict[str, Any]) -> list[tuple[str, str]]:
    """The facts of one timeline entry worth showing, in the reader's language."""
    data = entry.get("data") or {}
    shown: list[tuple[str, str]] = []
    for key, label in DETAILS:
        value = data.get(key)
        if value in (None, "", []):
            continue
        if key in ("deadline", "requested_deadline", "missed_deadline"):
            text_value = ctx.lang.time(value)
        elif key == "grade":
            text_value = ctx._(labels.GRADES.get(value, value))
        elif key == "department":
            text_value = ctx.department_name(value)
        elif key == "responsible_person":
            text_value = ctx.person_name(value)
        elif key == "copies":
            text_value = "、".join(ctx.person_name(p) for p in value)
        elif key == "evidence":
            items = [strip_references(e) or ctx._("Photo") for e in value]
            text_value = "；".join(items)
        else:
            text_value = str(value)
        shown.append((ctx._(label), text_value))
    return shown


def _number_of(ctx: Ctx, hazard_id: str | None) -> str | None:
    if not hazard_id:
        return None
    try:
        other = ctx.services.app.hazard(UUID(hazard_id))
    except NotFound:
        return None
    return other.number if ctx.user.can_see(other) else None


def _parse_instant(ctx: Ctx, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidCommand(
            "as_of", "not a date and time (YYYY-MM-DD HH:MM)", "日期时间格式无效"
        ) from None
    result = aware(parsed, ctx.services)
    assert result is not None
    return result


@router.post("/items/{hazard_id}/{command:path}")
def item_command(ctx: UserCtx, form: Form, hazard_id: UUID, command: str) -> Response:
    hazard = _load_visible(ctx, hazard_id)
    back = safe_next(text(form, "next"), f"/items/{hazard_id}")
    if command not in labels.COMMANDS:
        raise NotFound("command", command)
    if ctx.user.read_only or not ctx.user.may(command, hazard):
        raise ApiError(
            403,
            "forbidden",
            f"your role may not '{command}' this item",
            f"您的角色无权对该条目执行“{command}”",
        )
    try:
        result = _run(ctx, hazard, command, form)
    except ValidationError as e:
        return _item(ctx, _current(ctx, hazard_id), None, _validation_message(ctx, e), 422)
    except DomainError as e:
        status = 422 if isinstance(e, InvalidCommand) else 409
        return _item(ctx, _current(ctx, hazard_id), None, ctx.lang.pick(e.en, e.zh), status)
    ctx.services.caught_up(result.position)
    done = ctx._("%(number)s: %(action)s — done.") % {
        "number": hazard.number,
        "action": ctx._(labels.COMMANDS[command]),
    }
    return ctx.redirect(back, done)


def _current(ctx: Ctx, hazard_id: UUID) -> Hazard:
    return ctx.services.app.hazard(hazard_id)


def _run(ctx: Ctx, hazard: Hazard, command: str, form: FormData) -> CommandResult:
    app = ctx.services.app
    actor = ctx.user.actor
    now = ctx.services.now()
    version_text = text(form, "version")
    version = int(version_text) if version_text.isdigit() else None
    common: dict[str, Any] = {"actor": actor, "now": now, "expected_version": version}
    hid = hazard.id
    if command == "screen":
        s = Screen(grade=text(form, "grade"), department=text(form, "department"))  # type: ignore[arg-type]
        return app.screen(hid, grade=s.grade, department=s.department, **common)
    if command == "fix-on-spot":
        f = FixOnSpot(note=text(form, "note"))
        return app.fix_on_spot(hid, note=f.note, **common)
    if command == "void":
        v = Void(reason=text(form, "reason"))
        return app.void(hid, reason=v.reason, **common)
    if command == "merge":
        into = text(form, "into")
        target = boards.find_by_number(ctx.services.store, into) or into
        try:
            m = Merge(into=UUID(target))
        except ValueError:
            raise InvalidCommand(
                "into", f"no item numbered {into!r}", f"没有编号为“{into}”的条目"
            ) from None
        return app.merge(hid, into=m.into, **common)
    if command == "notice":
        n = Notice(
            responsible_person=text(form, "responsible_person"),
            measures=text(form, "measures"),
            funds=text(form, "funds") or "0",  # type: ignore[arg-type]
            deadline=text(form, "deadline") or None,  # type: ignore[arg-type]
            contingency=text(form, "contingency"),
        )
        return app.issue_notice(
            hid,
            responsible_person=n.responsible_person,
            measures=n.measures,
            funds=n.funds,
            deadline=aware(n.deadline, ctx.services),
            contingency=n.contingency,
            **common,
        )
    if command == "extension":
        x = Extension(
            requested_deadline=text(form, "requested_deadline"),  # type: ignore[arg-type]
            reason=text(form, "reason"),
        )
        requested = aware(x.requested_deadline, ctx.services)
        assert requested is not None
        return app.request_extension(hid, requested_deadline=requested, reason=x.reason, **common)
    if command == "extension/decision":
        d = ExtensionDecision(granted=text(form, "granted") == "yes", note=text(form, "note"))
        return app.decide_extension(hid, granted=d.granted, note=d.note, **common)
    if command == "submit":
        lines = [line.strip() for line in text(form, "evidence").splitlines() if line.strip()]
        photos = _save_photos(ctx, form)
        sub = Submit(evidence=[*lines, *photos], note=text(form, "note"))
        return app.submit(hid, evidence=sub.evidence, note=sub.note, **common)
    if command == "recheck":
        r = Recheck(
            passed=text(form, "passed") == "yes",
            note=text(form, "note"),
            deadline=text(form, "deadline") or None,  # type: ignore[arg-type]
        )
        return app.recheck(
            hid,
            passed=r.passed,
            note=r.note,
            deadline=aware(r.deadline, ctx.services),
            **common,
        )
    raise NotFound("command", command)


# -- photos ------------------------------------------------------------------------------------


def _may_see_photo(ctx: Ctx, name: str) -> bool:
    """A photo is shown to whoever may see one of the items that refer to it."""
    for hazard_id in photos.items_showing(ctx.services.store, name):
        try:
            if ctx.user.can_see(ctx.services.app.hazard(UUID(hazard_id))):
                return True
        except NotFound:
            continue
    return False


@router.get("/photos/{name}")
def photo(ctx: UserCtx, name: str) -> Response:
    found = ctx.web.photos.find(name)
    if found is None or not _may_see_photo(ctx, name):
        raise NotFound("photo", name)
    path, media_type = found
    response = FileResponse(path, media_type=media_type)
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
