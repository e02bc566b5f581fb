"""Bodies of the training, certificate and pre-shift checklist endpoints (fixed field names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas import Clean, Id, Instant, OptionalText, Strict

Short = Annotated[str, Field(min_length=1, max_length=200), Clean]
Level = Literal["mine", "unit", "team", "special"]


class CertificateIn(Strict):
    person: Id
    type: Short
    number: Short
    issued_at: Instant
    expires_at: Instant


class CertificateOut(BaseModel):
    id: UUID
    person: str
    type: str
    number: str
    issued_at: str
    expires_at: str
    #: False when the same certificate was on record already
    created: bool
    version: int


class CertificateRowOut(BaseModel):
    person: str
    name: str | None
    type: str
    number: str
    issued_at: str
    expires_at: str
    #: the violation filed when the holder was on site after the expiry
    lapse_finding: UUID | None


class TrainedOut(BaseModel):
    session_id: UUID
    person: str
    name: str | None
    level: str
    topic: str
    held_at: str
    score: float | None
    passed: bool | None


class DepartmentCertificates(BaseModel):
    department: str
    #: expiring within the policy's first reminder (certificate_reminder_days), soonest first
    due: list[CertificateRowOut]
    #: expired, soonest first
    lapsed: list[CertificateRowOut]
    #: the department's people at training sessions this month (site time)
    trained_this_month: list[TrainedOut]
    now: str


class Attendee(Strict):
    person: Id
    score: Annotated[float, Field(ge=0, le=1000)] | None = None
    passed: bool | None = None


class TrainingSessionIn(Strict):
    level: Level
    topic: Short
    department: Id | None = None
    held_at: Instant
    attendees: Annotated[list[Attendee], Field(min_length=1, max_length=2000)]


class Created(BaseModel):
    id: UUID
    version: int


class WorkFace(Strict):
    code: Short
    department: Id


class ChecklistTemplateIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=100), Clean]
    name: Short
    work_face_type: Short
    items: Annotated[list[Short], Field(min_length=1, max_length=200)]
    work_faces: Annotated[list[WorkFace], Field(default_factory=list, max_length=500)]


class ChecklistTemplateOut(BaseModel):
    code: str
    version: int
    name: str
    work_face_type: str
    items: list[str]
    work_faces: list[dict[str, Any]]
    recorded_at: str


class RunLineIn(Strict):
    #: the line's text, or its number (from 1) in the template
    item: Annotated[int, Field(ge=1, le=1000)] | Short
    ok: bool
    note: OptionalText = ""


class ChecklistRunIn(Strict):
    template: Annotated[str, Field(min_length=1, max_length=100), Clean]
    work_face: Short
    department: Id
    shift_start: Instant
    team_leader: Id
    lines: Annotated[list[RunLineIn], Field(min_length=1, max_length=200)]


class ChecklistRunOut(BaseModel):
    id: UUID
    #: the findings raised by the "not ok" lines, in line order
    findings: list[UUID]


class ChecklistRunRow(BaseModel):
    id: UUID
    template: str
    template_version: int
    work_face: str
    department: str
    shift_start: str
    team_leader: str
    lines: list[dict[str, Any]]
    findings: list[UUID]
    not_ok: int
    recorded_at: str


class MissingRun(BaseModel):
    work_face: str
    department: str
    template: str
    shift_start: str
    #: a run recorded after the shift had started
    late_run: UUID | None


class Respond(Strict):
    #: the timer's name (e.g. acknowledged, responsible, first_measure)
    step: Annotated[str, Field(min_length=1, max_length=100), Clean]
    note: OptionalText = ""


class TimerScore(BaseModel):
    urgent: int
    met: int
    met_in_time: int
    escalated: int
    avg_minutes: float | None
    max_minutes: float | None
