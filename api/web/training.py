"""Pages for training and pre-shift checklists: a department's certificates (due, lapsed,
trained this month) and the checklist run form a team leader fills in on a phone at the face.

Who sees and who records follow the JSON API (api/routes/training.py and checklists.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.responses import Response

from api.auth import DEPARTMENT_ACTORS, Principal
from api.errors import ApiError
from api.routes.checklists import RUN_RECORDERS, record_checklist
from api.routes.hazards import aware
from api.training_schemas import ChecklistRunIn, RunLineIn
from api.web.core import Ctx, Form, UserCtx, text
from api.web.i18n import N_
from api.web.items import _validation_message
from domain.errors import InvalidCommand, NotFound
from projections import certificates, checklists, training

router = APIRouter(include_in_schema=False)

LEVEL_LABELS = {
    "mine": N_("Mine level"),
    "unit": N_("Unit level"),
    "team": N_("Team level"),
    "special": N_("Special operation"),
}


# -- certificates ------------------------------------------------------------------------------


@router.get("/certificates")
def certificates_overview(ctx: UserCtx) -> Response:
    principal = ctx.user
    if not principal.sees_all:
        if principal.department:
            return ctx.redirect(f"/departments/{quote(principal.department)}/certificates")
        raise ApiError(403, "forbidden", "certificates are kept per department", "证书按部门查看")
    now = ctx.services.now()
    org = ctx.org()
    within = timedelta(days=max(ctx.services.policy.certificate_reminder_days, default=30))
    rows = []
    for code, record in sorted(org.departments.items()):
        people = sorted(pid for pid, p in org.people.items() if p.get("department") == code)
        due, lapsed = certificates.due_and_lapsed(
            certificates.of_people(ctx.services.store, people), now, within
        )
        rows.append(
            {
                "code": code,
                "name": ctx.lang.department(record, code),
                "due": len(due),
                "lapsed": len(lapsed),
            }
        )
    return ctx.render("certificates_overview.html", rows=rows)


@router.get("/departments/{code}/certificates")
def department_certificates(ctx: UserCtx, code: str) -> Response:
    org = ctx.org()
    record = org.department(code)
    if record is None or not ctx.user.can_see_department(code):
        raise NotFound("department", code)
    now = ctx.services.now()
    policy = ctx.services.policy
    people = {pid: p for pid, p in org.people.items() if p.get("department") == code}
    within = timedelta(days=max(policy.certificate_reminder_days, default=30))
    rows = certificates.of_people(ctx.services.store, sorted(people))
    due, lapsed = certificates.due_and_lapsed(rows, now, within)
    month = f"{now.astimezone(policy.zone):%Y-%m}"
    return ctx.render(
        "certificates.html",
        code=code,
        name=ctx.lang.department(record, code),
        due=due,
        lapsed=lapsed,
        trained=training.trained_in(ctx.services.store, month, sorted(people)),
        within_days=int(within.days),
        month=month,
        level_labels=LEVEL_LABELS,
    )


# -- pre-shift checklist runs ------------------------------------------------------------------


def may_run(principal: Principal, department: str | None = None) -> bool:
    if principal.role in RUN_RECORDERS:
        return True
    return principal.role in DEPARTMENT_ACTORS and (
        department is None or department == principal.department
    )


def _faces(ctx: Ctx, template: dict[str, Any]) -> list[dict[str, Any]]:
    """The template's work faces the caller may record a run for."""
    return [f for f in template["work_faces"] if may_run(ctx.user, f["department"])]


def _next_shift(ctx: Ctx) -> datetime:
    """The shift about to begin (or the one just begun, within its first hour)."""
    now = ctx.services.now()
    starts = ctx.services.policy.shift_starts_around(now + timedelta(days=1), days=2)
    return next(s for s in starts if s > now - timedelta(hours=1))


@router.get("/checklists/run")
def run_form(ctx: UserCtx, template: str | None = None) -> Response:
    if not may_run(ctx.user):
        raise ApiError(
            403, "forbidden", "runs are recorded by the unit's people", "班前检查由本单位人员填写"
        )
    templates = [t for t in checklists.templates(ctx.services.store) if _faces(ctx, t)]
    chosen = next((t for t in templates if t["code"] == template), None)
    if chosen is None and len(templates) == 1:
        chosen = templates[0]
    return _form(ctx, templates, chosen, {})


def _form(
    ctx: Ctx,
    templates: list[dict[str, Any]],
    chosen: dict[str, Any] | None,
    values: dict[str, Any],
    error: str | None = None,
    status: int = 200,
) -> Response:
    faces = _faces(ctx, chosen) if chosen else []
    defaults = {
        "work_face": faces[0]["code"] if len(faces) == 1 else "",
        "shift_start": ctx.lang.input_value(_next_shift(ctx)),
        "team_leader": ctx.user.actor if not ctx.user.is_admin else "",
    }
    return ctx.render(
        "checklist_run.html",
        status=status,
        templates=templates,
        chosen=chosen,
        faces=faces,
        values={**defaults, **values},
        error=error,
    )


@router.post("/checklists/run")
def record_run(ctx: UserCtx, form: Form) -> Response:
    code = text(form, "template")
    templates = [t for t in checklists.templates(ctx.services.store) if _faces(ctx, t)]
    chosen = next((t for t in templates if t["code"] == code), None)
    if chosen is None:
        raise NotFound("checklist template", code)
    faces = {f["code"]: f for f in _faces(ctx, chosen)}
    face = faces.get(text(form, "work_face"))
    values: dict[str, Any] = {
        name: text(form, name) for name in ("work_face", "shift_start", "team_leader")
    }
    answers = {
        n: (text(form, f"ok-{n}"), text(form, f"note-{n}"))
        for n in range(1, len(chosen["items"]) + 1)
    }
    values["answers"] = answers
    if face is None:
        message = ctx._("Please choose the work face.")
        return _form(ctx, templates, chosen, values, message, 422)
    unanswered = [n for n, (ok, _) in answers.items() if ok not in ("yes", "no")]
    if unanswered:
        message = ctx._("Please answer every line (ok or not ok): %(lines)s") % {
            "lines": ", ".join(str(n) for n in unanswered)
        }
        return _form(ctx, templates, chosen, values, message, 422)
    try:
        body = ChecklistRunIn(
            template=chosen["code"],
            work_face=face["code"],
            department=face["department"],
            shift_start=values["shift_start"],
            team_leader=values["team_leader"],
            lines=[
                RunLineIn(item=n, ok=ok == "yes", note=note) for n, (ok, note) in answers.items()
            ],
        )
        result = record_checklist(ctx.services, body, ctx.user.actor)
    except ValidationError as e:
        return _form(ctx, templates, chosen, values, _validation_message(ctx, e), 422)
    except InvalidCommand as e:
        return _form(ctx, templates, chosen, values, ctx.lang.pick(e.en, e.zh), 422)
    findings = [ctx.services.app.hazard(h) for h in result.findings]
    return ctx.render(
        "checklist_done.html",
        created=result.created,
        findings=findings,
        face=face,
        shift_start=aware(body.shift_start, ctx.services),
    )
