"""Bodies of the cases, site-visits and scorecards API (field names are a fixed contract)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas import Id, Instant, LongText, OptionalText, Strict, Text
from api.training_schemas import TimerScore

CaseKind = Literal["violation", "injury_accident", "non_injury_accident"]
ResponsibilityRole = Literal[
    "direct",
    "team_leader",
    "shift_manager",
    "unit_head",
    "leader_in_charge",
    "on_site_24h",
    "other",
]
PenaltyKind = Literal["warning", "fine", "demotion", "dismissal", "other"]
Place = Annotated[str, Field(min_length=1, max_length=200)]


class SiteVisitIn(Strict):
    person: Id
    location: Place
    at: Instant


class OpenCase(Strict):
    kind: CaseKind
    description: LongText
    location: Place
    department: Id
    occurred_at: Instant
    direct_person: Id | None = None
    findings: Annotated[list[UUID], Field(default_factory=list, max_length=100)]


class Cause(Strict):
    analysis: LongText


class Responsibility(Strict):
    person: Id
    #: omitted for a proposed person: the proposal's role
    role: ResponsibilityRole | None = None
    #: omitted for a proposed person: the proposal's basis
    basis: OptionalText = ""


class Removal(Strict):
    reason: Text


class Penalty(Strict):
    person: Id
    kind: PenaltyKind
    amount: (
        Annotated[Decimal, Field(ge=0, le=Decimal("1e9"), max_digits=12, decimal_places=2)] | None
    ) = None
    veto: bool = False


class Measure(Strict):
    measures: LongText
    responsible_person: Id
    department: Id
    deadline: Instant


class Education(Strict):
    topic: Text
    held_at: Instant
    attendees: Annotated[list[Id], Field(min_length=1, max_length=500)]


# -- responses ---------------------------------------------------------------------------------


class SiteVisitOut(BaseModel):
    id: UUID
    person: str
    location: str
    at: str
    created: bool


class SiteVisitRow(BaseModel):
    id: UUID
    person: str
    location: str
    at: str
    source: str
    recorded_at: str


class CaseOpened(BaseModel):
    id: UUID
    state: str
    version: int


class MeasureOut(BaseModel):
    hazard_id: UUID
    number: str
    state: str
    version: int
    case_id: UUID
    case_state: str
    case_version: int


class GateOut(BaseModel):
    held: bool
    why: str
    why_en: str


class Gates(BaseModel):
    cause: GateOut
    responsibility: GateOut
    education: GateOut
    measures: GateOut


class ProposalOut(BaseModel):
    person: str
    name: str
    role: str
    roles: list[str]
    basis: str
    basis_en: str
    evidence: list[dict[str, Any]]
    #: proposed (not yet decided), confirmed or removed
    status: str


class ResponsibleOut(BaseModel):
    person: str
    name: str
    role: str
    basis: str
    confirmed_by: str
    confirmed_at: str


class RemovedOut(BaseModel):
    person: str
    name: str
    reason: str
    removed_by: str
    removed_at: str


class CauseOut(BaseModel):
    analysis: str
    recorded_by: str
    recorded_at: str


class PenaltyOut(BaseModel):
    person: str
    name: str
    kind: str
    amount: str | None
    veto: bool
    #: the evaluation period a veto fails (YYYY-MM)
    period: str
    decided_by: str
    decided_at: str


class MeasureItemOut(BaseModel):
    hazard_id: UUID
    number: str
    state: str | None
    measures: str
    responsible_person: str
    department: str
    deadline: str


class EducationOut(BaseModel):
    topic: str
    held_at: str
    attendees: list[str]
    recorded_by: str


class CaseOut(BaseModel):
    id: UUID
    state: str
    kind: str
    description: str
    location: str
    department: str
    occurred_at: str
    opened_at: str
    direct_person: str | None
    findings: list[UUID]
    source_hazard: UUID | None
    proposal: list[ProposalOut]
    responsible: list[ResponsibleOut]
    removed: list[RemovedOut]
    cause: CauseOut | None
    penalties: list[PenaltyOut]
    measures: list[MeasureItemOut]
    education: list[EducationOut]
    gates: Gates
    closable: bool
    closed_at: str | None
    allowed: list[str]
    version: int
    as_of: str | None = None


class CaseListItem(BaseModel):
    id: UUID
    kind: str
    state: str
    department: str
    location: str
    description: str
    direct_person: str | None
    occurred_at: str
    opened_at: str
    source_hazard: UUID | None
    closed_at: str | None
    updated_at: str
    version: int


class CaseList(BaseModel):
    items: list[CaseListItem]
    next_cursor: str | None


class VetoOut(BaseModel):
    case_id: UUID
    person: str
    decided_at: str
    link: str


class DepartmentScore(BaseModel):
    department: str
    name_zh: str | None
    filed: int
    screened: int
    closed: int
    closed_on_time: int
    closed_on_time_extended: int
    overdue_periods: int
    renotices: int
    repeats: int
    violations: int
    cases: int
    vetoed: bool
    vetoed_by: list[VetoOut]
    #: urgent findings filed in the month: per response timer, how many ran, were met (in
    #: time), were escalated, and the minutes from the filing to the step
    response: dict[str, TimerScore] = {}


class PersonScore(BaseModel):
    person: str
    name: str | None
    department: str | None
    violations: int
    cases: int


class Scorecard(BaseModel):
    month: str
    as_of: str | None
    departments: list[DepartmentScore]
    people: list[PersonScore]
