"""Request and response bodies of the JSON API (field names are a fixed contract)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

EARLIEST_YEAR = 2000
LATEST_YEAR = 2100


When = TypeVar("When", date, datetime)


def _in_range(value: When) -> When:
    if not EARLIEST_YEAR <= value.year < LATEST_YEAR:
        raise PydanticCustomError(
            "date_out_of_range",
            "must be between the years {earliest} and {latest}",
            {"earliest": EARLIEST_YEAR, "latest": LATEST_YEAR},
        )
    return value


#: control characters other than tab, newline and carriage return (NUL cannot be stored in
#: a PostgreSQL text column: one such character would stop the read models for good)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "control_characters", "must not contain control characters (such as NUL)"
        )
    return value


Clean = AfterValidator(no_control_characters)
#: an ISO 8601 instant; without an offset it is read in the site's timezone
Instant = Annotated[datetime, AfterValidator(_in_range)]
#: a calendar day (YYYY-MM-DD), in the same years
Day = Annotated[date, AfterValidator(_in_range)]
Text = Annotated[str, Field(min_length=1, max_length=2000), Clean]
LongText = Annotated[str, Field(min_length=1, max_length=10_000), Clean]
OptionalText = Annotated[str, Field(max_length=2000), Clean]
Id = Annotated[str, Field(min_length=1, max_length=100), Clean]

Kind = Literal["hazard", "violation", "problem"]
Grade = Literal["general", "major"]
ReporterRole = Literal[
    "manager", "safety_supervisor", "mass_supervisor", "youth_monitor", "worker", "inspector"
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileHazard(Strict):
    kind: Kind
    description: LongText
    location: Text
    reporter: Id
    reporter_role: ReporterRole
    occurred_at: Instant
    department: Id | None = None
    client_ref: Annotated[str, Field(min_length=1, max_length=200), Clean] | None = None
    #: phoned in to the dispatch room: the policy's response timers start (urgent path)
    urgent: bool = False


class Screen(Strict):
    grade: Grade
    department: Id


class FixOnSpot(Strict):
    note: Text


class Void(Strict):
    reason: Text


class Merge(Strict):
    into: UUID


class Notice(Strict):
    responsible_person: Id
    measures: LongText
    funds: Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), max_digits=16, decimal_places=2)]
    #: omitted: the policy's default for the item's kind and grade
    deadline: Instant | None = None
    contingency: LongText


class Extension(Strict):
    requested_deadline: Instant
    reason: Text


class ExtensionDecision(Strict):
    granted: bool
    note: OptionalText = ""


class Submit(Strict):
    evidence: Annotated[list[Text], Field(min_length=1, max_length=50)]
    note: OptionalText = ""

    @field_validator("evidence", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Recheck(Strict):
    passed: bool
    note: OptionalText = ""
    #: for a failed recheck: the new deadline (default: the policy's re-notice time)
    deadline: Instant | None = None


class Tick(Strict):
    now: Instant | None = None


# -- responses ---------------------------------------------------------------------------------


class FiledOut(BaseModel):
    id: UUID
    number: str
    state: str
    version: int


class CommandDone(BaseModel):
    id: UUID
    state: str
    version: int


class NoticeOut(BaseModel):
    responsible_person: str
    measures: str
    funds: str
    deadline: str
    contingency: str
    unit_head: str | None
    copies: list[str]
    issued_at: str


class TimerOut(BaseModel):
    """An urgent item's response timer."""

    name: str
    due: str
    met_at: str | None
    #: ran out unmet and was escalated
    escalated: bool


class HazardOut(BaseModel):
    id: UUID
    number: str
    kind: str
    state: str
    grade: str | None
    department: str | None
    description: str
    location: str
    reporter: str
    reporter_role: str
    occurred_at: str
    filed_at: str
    deadline: str | None
    original_deadline: str | None
    overdue_periods: int
    escalation_level: int
    notice: NoticeOut | None
    pending_extension: dict[str, Any] | None
    evidence: list[str]
    merged_into: UUID | None
    duplicates: list[UUID]
    closed_at: str | None
    client_ref: str | None
    allowed: list[str]
    version: int
    as_of: str | None = None
    urgent: bool = False
    #: an urgent item's response timers: ``{name, due, met_at, escalated}``
    timers: list[TimerOut] = []
    #: what an automatic finding came from (a checklist run's line, a lapsed certificate)
    sources: list[dict[str, Any]] = []


class HistoryEntry(BaseModel):
    type: str
    actor: str | None
    occurred_at: str
    recorded_at: str
    version: int
    data: dict[str, Any]


class ListItem(BaseModel):
    id: UUID
    number: str
    kind: str
    state: str
    grade: str | None
    department: str | None
    location: str
    description: str
    deadline: str | None
    overdue_periods: int
    escalation_level: int
    occurred_at: str
    filed_at: str
    version: int
    #: recorded (filed) long after it occurred (see SAFELOOP_LATE_ENTRY_HOURS)
    late: bool = False


class ItemList(BaseModel):
    items: list[ListItem]
    next_cursor: str | None
    as_of: str | None = None


class BoardItem(BaseModel):
    id: UUID
    number: str
    kind: str
    state: str
    grade: str | None
    location: str
    description: str
    deadline: str | None
    overdue_periods: int
    escalation_level: int
    version: int
    late: bool = False


class Board(BaseModel):
    department: str
    counts: dict[str, int]
    items: list[BoardItem]
    as_of: str | None = None
    #: work faces of the department with no pre-shift checklist run before the current shift
    #: began: ``{work_face, template, shift_start, late_run}`` (absent when viewed as of)
    missing_checklists: list[dict[str, Any]] = []


class TickDone(BaseModel):
    now: str
    checked: int
    renoticed: int
    conflicts: int
    reminded: int = 0
    timers_escalated: int = 0
    certificate_reminders: int = 0
    certificate_violations: int = 0


class OrgLoaded(BaseModel):
    changes: int
    version: int


class Message(BaseModel):
    zh: str
    en: str


class FieldProblem(BaseModel):
    field: str
    en: str
    zh: str


class ErrorOut(BaseModel):
    """Every error: a code and a message in Chinese and English, with details by kind."""

    error: str
    message: Message
    #: 422: the offending inputs
    fields: list[FieldProblem] | None = None
    #: 422 on a malformed request: the validator's own account
    detail: list[dict[str, Any]] | None = None
    #: 409: the item's state, the commands it allows now and (on a conflict) its version
    state: str | None = None
    allowed: list[str] | None = None
    version: int | None = None


class Health(BaseModel):
    status: str
    store: str
    projections: dict[str, dict[str, Any]]
