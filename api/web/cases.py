"""Accountability cases (问责) as pages: the list, opening a case by hand (from the list or
from an item), the case with its four gates and a form for each step, and its history.

Who sees and who acts follow the JSON API (``api.routes.cases``): the office, the safety
department, the leaders and the auditor see every case, a department's people their own
department's; the office and the safety department (and an admin account) act.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from api.auth import Principal
from api.case_schemas import Cause, Education, Measure, OpenCase, Penalty, Removal, Responsibility
from api.errors import ApiError
from api.routes.cases import CASE_ACTORS, case_out, may_see, sees_all_cases
from api.routes.hazards import aware
from api.web import labels
from api.web.core import Ctx, Form, UserCtx, text
from api.web.i18n import N_
from api.web.items import _load_visible as load_item
from api.web.items import _number_of, _parse_instant, _validation_message
from api.web.uploads import strip_references
from domain.case import CASE_STATES, Case, GatesOpen
from domain.case import KINDS as CASE_KINDS
from domain.errors import DomainError, InvalidCommand, NotFound
from projections import boards
from projections import cases as case_views
from projections.describe import describe

router = APIRouter(include_in_schema=False)

LIST_LIMIT = 50
MAX_FINDINGS = 20
#: what separates item numbers or person ids typed into one field
SEPARATORS = re.compile(r"[\s,，、;；]+")


def may_act(principal: Principal) -> bool:
    return principal.is_admin or principal.role in CASE_ACTORS


def _require_actor(ctx: Ctx) -> None:
    if not may_act(ctx.user):
        raise ApiError(
            403,
            "forbidden",
            "only the information office and the safety department act on cases",
            "仅信息办和安监处可办理问责案件",
        )


def _scope(principal: Principal) -> list[str] | None:
    if sees_all_cases(principal):
        return None
    return [principal.department] if principal.department else []


# -- the list ----------------------------------------------------------------------------------


@router.get("/cases")
def case_list(
    ctx: UserCtx,
    state: str | None = None,
    department: str | None = None,
    cursor: str | None = None,
) -> Response:
    principal = ctx.user
    scope = _scope(principal)
    state = state if state in CASE_STATES else None
    rows, next_seq = case_views.list_cases(
        ctx.services.store,
        department=department or None,
        departments=scope,
        state=state,
        limit=LIST_LIMIT,
        before_seq=int(cursor) if cursor and cursor.isdigit() else None,
    )
    departments = [
        (code, ctx.lang.department(record, code))
        for code, record in sorted(ctx.org().departments.items())
        if scope is None or code in scope
    ]
    return ctx.render(
        "cases.html",
        cases=rows,
        counts=case_views.count_by_state(ctx.services.store) if scope is None else None,
        departments=departments,
        filters={"state": state or "", "department": department or ""},
        next_cursor=next_seq,
        may_act=may_act(principal),
        sees_visits=sees_all_cases(principal),
        case_states=labels.CASE_STATES,
        case_kinds=labels.CASE_KINDS,
    )


# -- opening a case by hand --------------------------------------------------------------------


@router.get("/cases/new")
def new_case(ctx: UserCtx, hazard: UUID | None = None) -> Response:
    _require_actor(ctx)
    values: dict[str, str] = {
        "kind": "",
        "occurred_at": ctx.lang.input_value(ctx.services.now()),
    }
    if hazard is not None:
        item = load_item(ctx, hazard)
        values.update(
            kind="violation" if item.kind == "violation" else "",
            description=f"{item.number}：{strip_references(item.description)}",
            location=item.location,
            department=item.department or "",
            occurred_at=ctx.lang.input_value(item.reported_at),
            direct_person=str((item.notice or {}).get("responsible_person") or ""),
            findings=item.number,
        )
    return _new_form(ctx, values)


def _new_form(
    ctx: Ctx, values: dict[str, str], error: str | None = None, status: int = 200
) -> Response:
    org = ctx.org()
    return ctx.render(
        "case_new.html",
        status=status,
        values=values,
        kinds=[(k, labels.CASE_KINDS[k]) for k in CASE_KINDS],
        departments=sorted(org.departments.values(), key=lambda d: d["code"]),
        people=_people(ctx),
        error=error,
    )


@router.post("/cases")
def open_case(ctx: UserCtx, form: Form) -> Response:
    _require_actor(ctx)
    fields = ("kind", "description", "location", "department", "occurred_at", "direct_person")
    values = {name: text(form, name) for name in fields}
    values["findings"] = text(form, "findings")
    try:
        body = OpenCase(
            kind=values["kind"],  # type: ignore[arg-type]
            description=values["description"],
            location=values["location"],
            department=values["department"],
            occurred_at=values["occurred_at"],  # type: ignore[arg-type]
            direct_person=values["direct_person"] or None,
            findings=_findings(ctx, values["findings"]),
        )
        occurred_at = aware(body.occurred_at, ctx.services)
        assert occurred_at is not None
        result = ctx.services.app.open_case(
            kind=body.kind,
            description=body.description,
            location=body.location,
            department=body.department,
            occurred_at=occurred_at,
            direct_person=body.direct_person,
            findings=body.findings,
            actor=ctx.user.actor,
            now=ctx.services.now(),
        )
    except ValidationError as e:
        return _new_form(ctx, values, _validation_message(ctx, e), 422)
    except InvalidCommand as e:
        return _new_form(ctx, values, ctx.lang.pick(e.en, e.zh), 422)
    ctx.services.caught_up(result.position)
    return ctx.redirect(f"/cases/{result.id}", ctx._("The case is opened."))


def _findings(ctx: Ctx, typed: str) -> list[UUID]:
    """Item numbers (or ids) typed into one field → the items' ids."""
    found: list[UUID] = []
    for token in (t for t in SEPARATORS.split(typed) if t):
        hazard_id = boards.find_by_number(ctx.services.store, token) or token
        try:
            found.append(load_item(ctx, UUID(hazard_id)).id)
        except (ValueError, NotFound):
            raise InvalidCommand(
                "findings", f"no item numbered {token!r}", f"没有编号为“{token}”的条目"
            ) from None
    if len(found) > MAX_FINDINGS:
        raise InvalidCommand(
            "findings",
            f"at most {MAX_FINDINGS} linked findings",
            f"关联的隐患最多 {MAX_FINDINGS} 条",
        )
    return list(dict.fromkeys(found))


# -- the case page -----------------------------------------------------------------------------


def _load_visible(ctx: Ctx, case_id: UUID, as_of: datetime | None = None) -> Case:
    case = ctx.services.app.case(case_id, as_of=as_of)
    current = case if as_of is None else ctx.services.app.case(case_id)
    if not (may_see(ctx.user, case) or may_see(ctx.user, current)):
        # the same answer as for an unknown id: nothing about other departments' cases
        raise NotFound("case", str(case_id))
    return case


@router.get("/cases/{case_id}")
def case_page(ctx: UserCtx, case_id: UUID, as_of: str | None = None) -> Response:
    when = _parse_instant(ctx, as_of) if as_of else None
    return _case(ctx, _load_visible(ctx, case_id, when), when)


def _case(
    ctx: Ctx, case: Case, as_of: datetime | None, error: str | None = None, status: int = 200
) -> Response:
    services = ctx.services
    now = services.now()
    data = case_out(services, case, ctx.user, as_of)
    acting = as_of is None and case.is_open and may_act(ctx.user)
    events = services.app.case_events(case.id)
    if as_of is not None:
        events = [e for e in events if e.timestamp <= as_of]
    org = ctx.org()
    unit = org.department(case.department) or {}
    confirmed = {r.person for r in data.responsible}
    attendees = [(r.person, r.name, True) for r in data.responsible] + [
        (p.person, p.name, False)
        for p in data.proposal
        if p.status == "proposed" and p.person not in confirmed
    ]
    return ctx.render(
        "case.html",
        status=status,
        c=data,
        case_title=_title(ctx, case),
        as_of=as_of,
        acting=acting,
        error=error,
        findings=[(f, _number_of(ctx, str(f))) for f in data.findings],
        source_number=_number_of(ctx, case.source_hazard),
        penalties={p.person: p for p in data.penalties},
        history=[describe(e) for e in events],
        details=lambda entry: _details(ctx, entry),
        evidence=lambda ev: _evidence(ctx, ev),
        people=_people(ctx) if acting else [],
        departments=sorted(org.departments.values(), key=lambda d: d["code"]),
        unit_head=unit.get("unit_head") or "",
        measure_deadline=services.policy.default_deadline("problem", "general", now),
        attendees=attendees,
        gate_labels=labels.GATES,
        case_states=labels.CASE_STATES,
        case_kinds=labels.CASE_KINDS,
        role_labels=labels.RESPONSIBILITY_ROLES,
        status_labels=labels.PROPOSAL_STATUS,
        penalty_labels=labels.PENALTY_KINDS,
        case_event_labels=labels.CASE_EVENTS,
    )


def _title(ctx: Ctx, case: Case) -> str:
    return " · ".join(
        (
            ctx._(labels.CASE_KINDS.get(case.kind, case.kind)),
            ctx.department_name(case.department),
            ctx.lang.time(case.incident_at)[:10],
        )
    )


def _people(ctx: Ctx) -> list[tuple[str, str]]:
    """(id, "name · department") of everyone, for the person fields' suggestions."""
    org = ctx.org()
    return [
        (p["id"], " · ".join(x for x in (p["name"], ctx.department_name(p.get("department"))) if x))
        for p in sorted(org.people.values(), key=lambda p: p["id"])
    ]


def _evidence(ctx: Ctx, evidence: dict[str, Any]) -> tuple[str, str | None]:
    """One piece of a proposal's evidence in words, with a link where there is a page."""
    kind = evidence.get("type")
    if kind == "site_visit":
        return (
            ctx._("Site visit: %(place)s at %(time)s (recorded %(recorded)s)")
            % {
                "place": evidence.get("location", ""),
                "time": ctx.lang.time(evidence.get("at")),
                "recorded": ctx.lang.time(evidence.get("recorded_at")),
            },
            None,
        )
    if kind == "organisation" and evidence.get("event"):
        return (
            ctx._("Organisation record %(event)s (version %(version)s), in effect from %(time)s")
            % {
                "event": evidence["event"],
                "version": evidence.get("version", ""),
                "time": ctx.lang.time(evidence.get("effective_at")),
            },
            None,
        )
    if kind == "organisation":
        return ctx._("The organisation as it was then"), None
    if kind == "hazard":
        number = _number_of(ctx, evidence.get("id"))
        link = f"/items/{evidence['id']}" if number else None
        return ctx._("The notice of %(number)s") % {"number": number or "—"}, link
    return ctx._("Named when the case was opened"), None


CASE_DETAILS: tuple[tuple[str, str], ...] = (
    ("kind", N_("Kind")),
    ("description", N_("Description")),
    ("location", N_("Location")),
    ("direct_person", N_("Direct person")),
    ("proposal", N_("Proposed")),
    ("analysis", N_("Cause analysis")),
    ("person", N_("Person")),
    ("role", N_("Responsibility")),
    ("basis", N_("Basis")),
    ("reason", N_("Reason")),
    ("amount", N_("Amount (yuan)")),
    ("veto", N_("Veto")),
    ("period", N_("Evaluation period")),
    ("number", N_("Measure item")),
    ("measures", N_("Measures")),
    ("responsible_person", N_("Responsible person")),
    ("department", N_("Department")),
    ("deadline", N_("Deadline")),
    ("topic", N_("Topic")),
    ("held_at", N_("Held at")),
    ("attendees", N_("Attendees")),
)


def _details(ctx: Ctx, entry: dict[str, Any]) -> list[tuple[str, str]]:
    """The facts of one case event worth showing, in the reader's language."""
    data = entry.get("data") or {}
    event = entry["type"]
    shown: list[tuple[str, str]] = []
    for key, label in CASE_DETAILS:
        value = data.get(key)
        if value in (None, "", []) or (key == "veto" and not value):
            continue
        if key == "kind":
            names = labels.PENALTY_KINDS if event == "PenaltyDecided" else labels.CASE_KINDS
            text_value = ctx._(names.get(value, value))
        elif key in ("deadline", "held_at"):
            text_value = ctx.lang.time(value)
        elif key in ("person", "direct_person", "responsible_person"):
            text_value = ctx.person_name(value)
        elif key == "attendees":
            text_value = "、".join(ctx.person_name(p) for p in value)
        elif key == "department":
            text_value = ctx.department_name(value)
        elif key == "role":
            text_value = ctx._(labels.RESPONSIBILITY_ROLES.get(value, value))
        elif key == "veto":
            text_value = ctx._("Yes: the unit fails the month's evaluation")
        elif key == "proposal":
            text_value = "、".join(_proposed(ctx, p) for p in value)
        else:
            text_value = str(value)
        shown.append((ctx._(label), text_value))
    return shown


def _proposed(ctx: Ctx, entry: dict[str, Any]) -> str:
    role = str(entry.get("role", ""))
    name = entry.get("name") or entry.get("person")
    return f"{name}（{ctx._(labels.RESPONSIBILITY_ROLES.get(role, role))}）"


# -- the steps ---------------------------------------------------------------------------------


@router.post("/cases/{case_id}/{command:path}")
def case_command(ctx: UserCtx, form: Form, case_id: UUID, command: str) -> Response:
    case = _load_visible(ctx, case_id)
    if command not in labels.CASE_COMMANDS:
        raise NotFound("command", command)
    _require_actor(ctx)
    try:
        position, message = _run(ctx, case, command, form)
    except ValidationError as e:
        return _case(ctx, _current(ctx, case_id), None, _validation_message(ctx, e), 422)
    except GatesOpen as e:
        return _case(ctx, _current(ctx, case_id), None, _gates_open(ctx, e), 409)
    except DomainError as e:
        status = 422 if isinstance(e, InvalidCommand) else 409
        return _case(ctx, _current(ctx, case_id), None, ctx.lang.pick(e.en, e.zh), status)
    ctx.services.caught_up(position)
    anchor = command.split("/")[0]
    return ctx.redirect(f"/cases/{case_id}#{anchor}", message)


def _current(ctx: Ctx, case_id: UUID) -> Case:
    return ctx.services.app.case(case_id)


def _gates_open(ctx: Ctx, error: GatesOpen) -> str:
    named = [
        f"{ctx._(labels.GATES[name])}（{ctx.lang.pick(gate.why_en, gate.why)}）"
        for name, gate in error.gates.items()
        if not gate.held
    ]
    return ctx._("The case cannot be closed while these gates are open: %(gates)s") % {
        "gates": "；".join(named)
    }


def _run(ctx: Ctx, case: Case, command: str, form: FormData) -> tuple[int | None, str]:
    app = ctx.services.app
    version_text = text(form, "version")
    common: dict[str, Any] = {
        "actor": ctx.user.actor,
        "now": ctx.services.now(),
        "expected_version": int(version_text) if version_text.isdigit() else None,
    }
    done = ctx._("%(action)s — done.") % {"action": ctx._(labels.CASE_COMMANDS[command])}
    cid = case.id
    if command == "cause":
        cause = Cause(analysis=text(form, "analysis"))
        return app.record_cause(cid, analysis=cause.analysis, **common).position, done
    if command == "proposal":
        result = app.refresh_proposal(cid, **common)
        if result.position is None:
            return None, ctx._("The proposal is unchanged.")
        return result.position, ctx._("The responsibility is proposed again.")
    if command == "responsibility":
        r = Responsibility(
            person=text(form, "person"),
            role=text(form, "role") or None,  # type: ignore[arg-type]
            basis=text(form, "basis"),
        )
        result = app.confirm_responsibility(
            cid, person=r.person, role=r.role, basis=r.basis, **common
        )
        return result.position, done
    if command == "responsibility/remove":
        removal = Removal(reason=text(form, "reason"))
        result = app.remove_responsibility(
            cid, person=text(form, "person"), reason=removal.reason, **common
        )
        return result.position, done
    if command == "penalties":
        p = Penalty(
            person=text(form, "person"),
            kind=text(form, "kind"),  # type: ignore[arg-type]
            amount=text(form, "amount") or None,  # type: ignore[arg-type]
            veto=text(form, "veto") == "yes",
        )
        result = app.decide_penalty(
            cid, person=p.person, kind=p.kind, amount=p.amount, veto=p.veto, **common
        )
        return result.position, done
    if command == "measures":
        m = Measure(
            measures=text(form, "measures"),
            responsible_person=text(form, "responsible_person"),
            department=text(form, "department"),
            deadline=text(form, "deadline"),  # type: ignore[arg-type]
        )
        deadline = aware(m.deadline, ctx.services)
        assert deadline is not None
        measure = app.assign_measure(
            cid,
            measures=m.measures,
            responsible_person=m.responsible_person,
            department=m.department,
            deadline=deadline,
            **common,
        )
        return measure.case.position, ctx._("Measure assigned: item %(number)s.") % {
            "number": measure.number
        }
    if command == "education":
        typed = [p for p in SEPARATORS.split(text(form, "others")) if p]
        ticked = [a for a in form.getlist("attendees") if isinstance(a, str) and a]
        e = Education(
            topic=text(form, "topic"),
            held_at=text(form, "held_at") or common["now"],  # type: ignore[arg-type]
            attendees=list(dict.fromkeys([*ticked, *typed])),
        )
        held_at = aware(e.held_at, ctx.services)
        assert held_at is not None
        result = app.record_education(
            cid, topic=e.topic, held_at=held_at, attendees=e.attendees, **common
        )
        return result.position, done
    if command == "close":
        return app.close_case(cid, **common).position, ctx._("The case is closed.")
    raise NotFound("command", command)
