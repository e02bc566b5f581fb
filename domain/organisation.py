"""The Organisation: departments (units), people and who heads what, as events.

Because "who was unit head on day D" decides liability, every change is an event; the
document loaded by ``safeloop org load`` / ``PUT /api/v1/org`` is compared with the current
state and only the differences are recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import InvalidCommand
from domain.ids import NAMESPACE

ROLES = (
    "worker",
    "team_leader",
    "shift_manager",
    "unit_head",
    "staff",
    "info_office",
    "safety_dept",
    "safety_supervisor",
    "mass_supervisor",
    "youth_monitor",
    "deputy_chief",
    "leader",
    "mine_chief",
    "auditor",
)
#: managers of team-leader rank or above (the 24-hour rule looks for these)
MANAGER_ROLES = (
    "team_leader",
    "shift_manager",
    "unit_head",
    "deputy_chief",
    "leader",
    "mine_chief",
)

DEPARTMENT_FIELDS = (
    "code",
    "name_zh",
    "name_en",
    "specialty",
    "unit_head",
    "deputy_chief",
    "leader_in_charge",
)
DEPARTMENT_HEAD_FIELDS = ("unit_head", "deputy_chief", "leader_in_charge")
PERSON_FIELDS = ("id", "name", "role", "department")
#: optional per-person fields kept as given (contact and preferences)
PERSON_OPTIONAL_FIELDS = ("email", "phone", "language", "channels")
LANGUAGES = ("zh", "en")

ORGANISATION_ID: UUID = uuid5(NAMESPACE, "organisation")

Record = dict[str, Any]


class Organisation(Aggregate):
    """The one organisation of a site."""

    class Event(Aggregate.Event):
        actor: str
        occurred_at: datetime

    class Founded(Aggregate.Created, Event):
        def apply(self, org: Organisation) -> None:
            org.departments = {}
            org.people = {}

    class DepartmentAdded(Event):
        record: Record

        def apply(self, org: Organisation) -> None:
            org.departments[self.record["code"]] = dict(self.record)

    class DepartmentChanged(Event):
        code: str
        changes: Record

        def apply(self, org: Organisation) -> None:
            org.departments[self.code].update(self.changes)

    class DepartmentRemoved(Event):
        code: str

        def apply(self, org: Organisation) -> None:
            del org.departments[self.code]

    class PersonAdded(Event):
        record: Record

        def apply(self, org: Organisation) -> None:
            org.people[self.record["id"]] = dict(self.record)

    class PersonChanged(Event):
        person_id: str
        changes: Record

        def apply(self, org: Organisation) -> None:
            person = org.people[self.person_id]
            for key, value in self.changes.items():
                if value is None and key in PERSON_OPTIONAL_FIELDS:
                    person.pop(key, None)
                else:
                    person[key] = value

    class PersonRemoved(Event):
        person_id: str

        def apply(self, org: Organisation) -> None:
            del org.people[self.person_id]

    if TYPE_CHECKING:  # attributes set by the events (no dataclass fields)
        departments: dict[str, Record]
        people: dict[str, Record]

    @classmethod
    def found(cls, actor: str, now: datetime, effective_at: datetime | None = None) -> Organisation:
        return cls._create(
            cls.Founded,
            id=ORGANISATION_ID,
            actor=actor,
            occurred_at=effective_at or now,
            timestamp=now,
        )

    # -- commands ----------------------------------------------------------------------------

    def load(
        self,
        document: Mapping[str, Any],
        actor: str,
        now: datetime,
        effective_at: datetime | None = None,
    ) -> int:
        """Record the differences between the current state and ``document``.

        Returns the number of events recorded. The document is validated first; an
        invalid document records nothing. ``effective_at`` (default: ``now``) is when the
        changes took effect, kept as the events' ``occurred_at`` (who headed a unit at an
        instant is read by it); it may be earlier than ``now`` but not later.
        """
        departments, people = validate_org_document(document)
        if effective_at is not None and effective_at > now:
            raise InvalidCommand(
                "effective_at", "effective_at cannot be in the future", "生效时间不能晚于当前时间"
            )
        stamp = {
            "actor": actor,
            "occurred_at": effective_at or now,
            "timestamp": max(now, self.modified_on),
        }
        before = len(self.pending_events)
        # People first, so departments may name new heads; removals of departments last.
        for pid, person in people.items():
            current = self.people.get(pid)
            if current is None:
                self.trigger_event(self.PersonAdded, record=person, **stamp)
            else:
                changes = _diff(current, person, PERSON_FIELDS + PERSON_OPTIONAL_FIELDS)
                if changes:
                    self.trigger_event(self.PersonChanged, person_id=pid, changes=changes, **stamp)
        for code, dept in departments.items():
            current = self.departments.get(code)
            if current is None:
                self.trigger_event(self.DepartmentAdded, record=dept, **stamp)
            else:
                changes = _diff(current, dept, DEPARTMENT_FIELDS)
                if changes:
                    self.trigger_event(self.DepartmentChanged, code=code, changes=changes, **stamp)
        for code in [c for c in self.departments if c not in departments]:
            self.trigger_event(self.DepartmentRemoved, code=code, **stamp)
        for pid in [p for p in self.people if p not in people]:
            self.trigger_event(self.PersonRemoved, person_id=pid, **stamp)
        return len(self.pending_events) - before

    # -- queries -----------------------------------------------------------------------------

    def document(self) -> dict[str, list[Record]]:
        """The organisation as the document ``load`` reads."""
        return {
            "departments": [dict(d) for _, d in sorted(self.departments.items())],
            "people": [dict(p) for _, p in sorted(self.people.items())],
        }

    def person(self, person_id: str) -> Record | None:
        return self.people.get(person_id)

    def department(self, code: str) -> Record | None:
        return self.departments.get(code)

    def people_with_role(self, role: str) -> list[str]:
        return sorted(pid for pid, p in self.people.items() if p["role"] == role)

    def resolve_copies(self, roles: Iterable[str], department: str | None) -> list[str]:
        """Person ids for copy roles (unit_head, deputy_chief, ...), de-duplicated, in order."""
        dept = self.departments.get(department or "") or {}
        found: list[str] = []
        for role in roles:
            if role in DEPARTMENT_HEAD_FIELDS:
                candidates = [dept.get(role)]
            else:
                candidates = list(self.people_with_role(role))
            for pid in candidates:
                if pid and pid in self.people and pid not in found:
                    found.append(pid)
        return found


def _diff(current: Mapping[str, Any], wanted: Mapping[str, Any], keys: Sequence[str]) -> Record:
    """Fields of ``wanted`` that differ from ``current``; a dropped optional field maps to None."""
    changes: Record = {}
    for key in keys:
        if current.get(key) != wanted.get(key):
            changes[key] = wanted.get(key)
    return changes


def validate_org_document(
    document: Mapping[str, Any],
) -> tuple[dict[str, Record], dict[str, Record]]:
    """Check an organisation document and return normalised departments and people."""
    if not isinstance(document, Mapping):
        raise InvalidCommand("document", "the document must be an object", "文档必须是一个对象")
    raw_departments = document.get("departments", [])
    raw_people = document.get("people", [])
    if not isinstance(raw_departments, list):
        raise InvalidCommand("departments", "must be a list", "必须是列表")
    if not isinstance(raw_people, list):
        raise InvalidCommand("people", "must be a list", "必须是列表")

    people: dict[str, Record] = {}
    for i, raw in enumerate(raw_people):
        where = f"people[{i}]"
        person = _record(
            raw, where, PERSON_FIELDS, PERSON_OPTIONAL_FIELDS, required=("id", "name", "role")
        )
        if person["id"] in people:
            raise InvalidCommand(
                f"{where}.id",
                f"person id {person['id']!r} appears twice",
                f"人员编号“{person['id']}”重复",
            )
        if person["role"] not in ROLES:
            raise InvalidCommand(
                f"{where}.role",
                f"unknown role {person['role']!r}; one of: {', '.join(ROLES)}",
                f"未知角色“{person['role']}”，应为：{'、'.join(ROLES)}",
            )
        if person.get("language") not in (None, *LANGUAGES):
            raise InvalidCommand(
                f"{where}.language", "language must be zh or en", "语言应为 zh 或 en"
            )
        channels = person.get("channels")
        if channels is not None and (
            not isinstance(channels, list) or not all(isinstance(c, str) for c in channels)
        ):
            raise InvalidCommand(
                f"{where}.channels", "channels must be a list of names", "通知渠道必须是名称列表"
            )
        people[person["id"]] = person

    departments: dict[str, Record] = {}
    for i, raw in enumerate(raw_departments):
        where = f"departments[{i}]"
        dept = _record(raw, where, DEPARTMENT_FIELDS, (), required=("code", "name_zh"))
        if dept["code"] in departments:
            raise InvalidCommand(
                f"{where}.code",
                f"department code {dept['code']!r} appears twice",
                f"部门代码“{dept['code']}”重复",
            )
        for key in DEPARTMENT_HEAD_FIELDS:
            pid = dept.get(key)
            if pid is not None and pid not in people:
                raise InvalidCommand(
                    f"{where}.{key}",
                    f"{key} {pid!r} is not a person in the document",
                    f"{key}“{pid}”不在人员名单中",
                )
        departments[dept["code"]] = dept

    for i, person in enumerate(people.values()):
        dept_code = person.get("department")
        if dept_code is not None and dept_code not in departments:
            raise InvalidCommand(
                f"people[{i}].department",
                f"department {dept_code!r} is not in the document",
                f"部门“{dept_code}”不在部门名单中",
            )
    return departments, people


def _record(
    raw: Any,
    where: str,
    keys: Sequence[str],
    optional: Sequence[str],
    required: Sequence[str],
) -> Record:
    if not isinstance(raw, Mapping):
        raise InvalidCommand(where, "must be an object", "必须是一个对象")
    unknown = set(raw) - set(keys) - set(optional)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidCommand(f"{where}.{name}", f"unknown field {name!r}", f"未知字段“{name}”")
    record: Record = {}
    for key in keys:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            value = str(value) if isinstance(value, int) else value
        if value is not None and not isinstance(value, str):
            raise InvalidCommand(f"{where}.{key}", "must be text", "必须是文本")
        value = value.strip() if isinstance(value, str) else None
        if not value:
            if key in required:
                raise InvalidCommand(f"{where}.{key}", "is required", "为必填项")
            value = None
        elif len(value) > 200:
            raise InvalidCommand(
                f"{where}.{key}", "is longer than 200 characters", "超过 200 个字符"
            )
        record[key] = value
    for key in optional:
        if raw.get(key) is not None:
            record[key] = raw[key]
    return record
