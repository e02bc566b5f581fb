"""The proposed responsibility chain for an incident at place L, time T, in unit U.

Who is proposed, and why (each with the events behind it):

- the **direct person** named when the case was opened;
- the unit's **team leaders** and **shift managers** at T: the organisation records people
  with those roles per department, not per shift, so every one of them in U at T is proposed
  and the office keeps the one on duty (removing the others with a reason);
- the **unit head** of U at T and the **leader in charge** of U at T;
- every **manager** (team leader rank or above, in their role at T) with a site visit at L
  within the 24 hours before T (24小时追溯). The window is closed at both ends:
  ``T - 24 h <= visit <= T``; a visit exactly 24 h before counts, 24 h and 1 s before does not.

"At T" reads the organisation by the time each change took effect: a change's effective
time is the instant its load gave (``occurred_at``; the instant of the load unless an
earlier ``effective_at`` was given), and never earlier than an earlier change's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.organisation import DEPARTMENT_HEAD_FIELDS, MANAGER_ROLES, Organisation
from domain.site_visit import Visit

WINDOW = timedelta(hours=24)

#: roles a responsible person can hold in a case (the proposal uses all but "other")
RESPONSIBILITY_ROLES = (
    "direct",
    "team_leader",
    "shift_manager",
    "unit_head",
    "leader_in_charge",
    "on_site_24h",
    "other",
)
ROLE_ZH = {
    "direct": "直接责任人",
    "team_leader": "班组长",
    "shift_manager": "跟班队长",
    "unit_head": "区队长",
    "leader_in_charge": "主管领导",
    "on_site_24h": "24小时内到过现场的管理人员",
    "other": "其他责任人",
}
ORG_ROLE_ZH = {
    "team_leader": "班组长",
    "shift_manager": "跟班队长",
    "unit_head": "区队长",
    "deputy_chief": "分管副总",
    "leader": "矿领导",
    "mine_chief": "矿长",
}

Evidence = dict[str, Any]


def window(at: datetime) -> tuple[datetime, datetime]:
    """The 24-hour rule's window before ``at``; both ends included."""
    return at - WINDOW, at


@dataclass
class OrgAt:
    """The organisation as in effect at an instant, and the event behind each fact."""

    at: datetime
    org: Organisation | None
    #: ("dept", code, field) or ("person", id) -> the organisation event that last set it
    sources: dict[tuple[str, ...], Evidence] = field(default_factory=dict)

    def department(self, code: str) -> dict[str, Any]:
        if self.org is None:
            return {}
        return self.org.department(code) or {}

    def person(self, pid: str) -> dict[str, Any] | None:
        return self.org.person(pid) if self.org is not None else None

    def people_in(self, department: str, role: str) -> list[str]:
        if self.org is None:
            return []
        return sorted(
            pid
            for pid, p in self.org.people.items()
            if p.get("role") == role and p.get("department") == department
        )

    def name(self, pid: str) -> str:
        person = self.person(pid)
        return str(person["name"]) if person else pid


def org_in_effect(events: Iterable[Any], at: datetime) -> OrgAt:
    """Replay the organisation's events in effect at ``at``, noting who set what."""
    org: Any = None
    sources: dict[tuple[str, ...], Evidence] = {}
    effective: datetime | None = None
    for event in events:
        occurred = getattr(event, "occurred_at", event.timestamp)
        effective = occurred if effective is None else max(effective, occurred)
        if effective > at:
            break
        org = event.mutate(org)
        source: Evidence = {
            "type": "organisation",
            "event": type(event).__name__,
            "version": event.originator_version,
            "effective_at": effective,
            "recorded_at": event.timestamp,
        }
        if isinstance(event, Organisation.DepartmentAdded | Organisation.DepartmentChanged):
            values = (
                event.record if isinstance(event, Organisation.DepartmentAdded) else event.changes
            )
            code = (
                event.record["code"]
                if isinstance(event, Organisation.DepartmentAdded)
                else event.code
            )
            for key in DEPARTMENT_HEAD_FIELDS:
                if key in values:
                    sources[("dept", code, key)] = source
        elif isinstance(event, Organisation.PersonAdded):
            sources[("person", event.record["id"])] = source
        elif isinstance(event, Organisation.PersonChanged) and (
            "role" in event.changes or "department" in event.changes
        ):
            sources[("person", event.person_id)] = source
    return OrgAt(at, org if isinstance(org, Organisation) else None, sources)


@dataclass
class _Entry:
    person: str
    name: str
    roles: list[str] = field(default_factory=list)
    basis: list[str] = field(default_factory=list)
    basis_en: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "name": self.name,
            "role": self.roles[0],
            "roles": list(self.roles),
            "basis": "；".join(self.basis),
            "basis_en": "; ".join(self.basis_en),
            "evidence": list(self.evidence),
        }


def propose(
    org: OrgAt,
    *,
    department: str,
    location: str,
    direct_person: str | None,
    direct_basis: tuple[str, str],
    direct_evidence: Evidence,
    visits: Sequence[Visit],
    zone: ZoneInfo,
) -> list[dict[str, Any]]:
    """The proposed responsible people, one entry per person, most direct first.

    ``direct_basis`` is why the direct person is named (Chinese, English).
    """
    at = org.at
    when = f"{at.astimezone(zone):%Y-%m-%d %H:%M}"
    dept = org.department(department)
    unit = dept.get("name_zh") or department
    entries: dict[str, _Entry] = {}

    def add(pid: str, role: str, zh: str, en: str, evidence: Evidence) -> None:
        entry = entries.setdefault(pid, _Entry(pid, org.name(pid)))
        if role not in entry.roles:
            entry.roles.append(role)
        entry.basis.append(zh)
        entry.basis_en.append(en)
        entry.evidence.append(evidence)

    if direct_person:
        add(direct_person, "direct", direct_basis[0], direct_basis[1], direct_evidence)
    for role in ("team_leader", "shift_manager"):
        members = org.people_in(department, role)
        for pid in members:
            several = len(members) > 1
            add(
                pid,
                role,
                f"{when} 时为{unit}{ROLE_ZH[role]}"
                + (f"（本单位共 {len(members)} 名，保留当班者）" if several else ""),
                f"{role.replace('_', ' ')} of {department} at {when}"
                + (f" (one of {len(members)}; keep the one on duty)" if several else ""),
                org.sources.get(("person", pid), {"type": "organisation"}),
            )
    for role in ("unit_head", "leader_in_charge"):
        head = dept.get(role)
        if head:
            add(
                str(head),
                role,
                f"{when} 时为{unit}{ROLE_ZH[role]}",
                f"{role.replace('_', ' ')} of {department} at {when}",
                org.sources.get(("dept", department, role), {"type": "organisation"}),
            )
    for visit in visits:
        person = org.person(visit.person)
        if person is None or person.get("role") not in MANAGER_ROLES:
            continue
        before = at - visit.at
        hours = int(before.total_seconds() // 3600)
        minutes = int(before.total_seconds() % 3600 // 60)
        title = ORG_ROLE_ZH.get(person["role"], person["role"])
        add(
            visit.person,
            "on_site_24h",
            f"{visit.at.astimezone(zone):%Y-%m-%d %H:%M} 到过{visit.location}"
            f"（事发前 {hours} 小时 {minutes} 分，{title}），24小时追溯",
            f"at {visit.location} {hours} h {minutes} min before (as {person['role']}):"
            " the 24-hour rule",
            {
                "type": "site_visit",
                "id": str(visit.id),
                "at": visit.at,
                "location": visit.location,
                "recorded_at": visit.recorded_at,
            },
        )
    return [entry.as_dict() for entry in entries.values()]
