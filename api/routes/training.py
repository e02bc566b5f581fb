"""Training and certificates: recording them, and a department's view of who is due, who has
lapsed and who was trained this month."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from fastapi import APIRouter, Response

from api.auth import PrincipalDep, ServicesDep
from api.errors import forbidden
from api.routes.hazards import aware
from api.training_schemas import (
    CertificateIn,
    CertificateOut,
    CertificateRowOut,
    Created,
    DepartmentCertificates,
    TrainedOut,
    TrainingSessionIn,
)
from domain.errors import NotFound
from domain.training import CertificateRow
from projections import certificates, training
from projections.timefmt import iso

router = APIRouter(prefix="/api/v1", tags=["training"])


@router.post(
    "/certificates",
    status_code=201,
    response_model=CertificateOut,
    responses={200: {"model": CertificateOut, "description": "the same certificate again"}},
    summary="Record a person's certificate (a newer one of the same type renews it)",
)
def record_certificate(
    body: CertificateIn, services: ServicesDep, principal: PrincipalDep, response: Response
) -> CertificateOut:
    person = services.app.org().person(body.person)
    if not principal.may_keep_training((person or {}).get("department")):
        raise forbidden()
    issued_at, expires_at = aware(body.issued_at, services), aware(body.expires_at, services)
    assert issued_at is not None
    assert expires_at is not None
    row = CertificateRow(body.person, body.type, body.number, issued_at, expires_at)
    result = services.app.record_certificate(row, actor=principal.actor, now=services.now())
    services.caught_up(result.position)
    if result.position is None:
        response.status_code = 200
    cert = services.app.certificate(body.person, " ".join(body.type.split()))
    return CertificateOut(
        id=result.id,
        person=cert.person,
        type=cert.certificate_type,
        number=cert.number,
        issued_at=iso(cert.issued_at) or "",
        expires_at=iso(cert.expires_at) or "",
        created=result.created,
        version=result.version,
    )


@router.get(
    "/departments/{code}/certificates",
    response_model=DepartmentCertificates,
    summary="A department's certificates: who is due, who has lapsed, who was trained this month",
)
def department_certificates(
    code: str, services: ServicesDep, principal: PrincipalDep
) -> DepartmentCertificates:
    org = services.app.org()
    if org.department(code) is None:
        raise NotFound("department", code)
    if not principal.can_see_department(code):
        raise forbidden()
    now = services.now()
    people = {pid: p for pid, p in org.people.items() if p.get("department") == code}
    rows = certificates.of_people(services.store, sorted(people))
    within = timedelta(days=max(services.policy.certificate_reminder_days, default=30))
    due, lapsed = certificates.due_and_lapsed(rows, now, within)

    def out(row: dict[str, str]) -> CertificateRowOut:
        return CertificateRowOut(
            person=row["person"],
            name=people.get(row["person"], {}).get("name"),
            type=row["type"],
            number=row["number"],
            issued_at=row["issued_at"],
            expires_at=row["expires_at"],
            lapse_finding=UUID(row["lapse_hazard"]) if row["lapse_hazard"] else None,
        )

    month = f"{now.astimezone(services.policy.zone):%Y-%m}"
    trained = training.trained_in(services.store, month, sorted(people))
    return DepartmentCertificates(
        department=code,
        due=[out(r) for r in due],
        lapsed=[out(r) for r in lapsed],
        trained_this_month=[
            TrainedOut(**t, name=people.get(t["person"], {}).get("name")) for t in trained
        ],
        now=iso(now) or "",
    )


@router.post(
    "/training-sessions",
    status_code=201,
    response_model=Created,
    summary="Record a training session (mine, unit, team or special-operation level)",
)
def record_training_session(
    body: TrainingSessionIn, services: ServicesDep, principal: PrincipalDep
) -> Created:
    if not principal.may_keep_training(body.department):
        raise forbidden()
    held_at = aware(body.held_at, services)
    assert held_at is not None
    result = services.app.record_training_session(
        level=body.level,
        topic=body.topic,
        department=body.department,
        held_at=held_at,
        attendees=[a.model_dump() for a in body.attendees],
        actor=principal.actor,
        now=services.now(),
    )
    services.caught_up(result.position)
    return Created(id=result.id, version=result.version)
