"""The Case aggregate: accountability (问责) for a violation, an accident, or an item left overdue.

OPENED ─▶ CAUSE_ANALYSED ─▶ RESPONSIBILITY_ASSIGNED ─▶ PENALTIES_DECIDED ─▶ MEASURES_ASSIGNED
─▶ EDUCATED ─▶ CLOSED

The state names the furthest step reached; the steps may be taken in any order while the case
is open (a measure can be set before the penalties are decided). Closing is refused while any
of the four gates (四不放过) is open:

- ``cause``: the cause analysis is recorded;
- ``responsibility``: at least one responsible person is confirmed, every proposed person is
  confirmed or removed with a reason, and every confirmed person has a penalty decision;
- ``education``: at least one education session, whose attendees together include every
  confirmed responsible person;
- ``measures``: at least one measure, and every measure's item is CLOSED.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import DomainError, IllegalTransition, InvalidCommand
from domain.responsibility import RESPONSIBILITY_ROLES

#: kinds a case can be opened for by hand; "overdue" is opened by the escalation ladder
KINDS = ("violation", "injury_accident", "non_injury_accident")
AUTO_KIND = "overdue"
PENALTY_KINDS = ("warning", "fine", "demotion", "dismissal", "other")
GATES = ("cause", "responsibility", "education", "measures")
FUTURE_SLACK = timedelta(minutes=5)


class CS:
    """The states of a Case (the furthest step reached)."""

    OPENED = "OPENED"
    CAUSE_ANALYSED = "CAUSE_ANALYSED"
    RESPONSIBILITY_ASSIGNED = "RESPONSIBILITY_ASSIGNED"
    PENALTIES_DECIDED = "PENALTIES_DECIDED"
    MEASURES_ASSIGNED = "MEASURES_ASSIGNED"
    EDUCATED = "EDUCATED"
    CLOSED = "CLOSED"


CASE_STATES = (
    CS.OPENED,
    CS.CAUSE_ANALYSED,
    CS.RESPONSIBILITY_ASSIGNED,
    CS.PENALTIES_DECIDED,
    CS.MEASURES_ASSIGNED,
    CS.EDUCATED,
    CS.CLOSED,
)
#: commands (named as in the HTTP API) allowed while a case is open
OPEN_COMMANDS = (
    "cause",
    "responsibility",
    "responsibility/remove",
    "penalties",
    "measures",
    "education",
    "proposal",
)


@dataclass(frozen=True)
class Gate:
    held: bool
    why: str
    why_en: str

    def as_dict(self) -> dict[str, Any]:
        return {"held": self.held, "why": self.why, "why_en": self.why_en}


class GatesOpen(DomainError):
    """Closing refused: one or more of the four gates is open (HTTP 409)."""

    code = "gates_open"

    def __init__(self, gates: Mapping[str, Gate]) -> None:
        self.open = [name for name in GATES if not gates[name].held]
        self.gates = dict(gates)
        super().__init__(
            "the case cannot be closed while these gates are open: "
            + "; ".join(f"{n} ({gates[n].why_en})" for n in self.open),
            "四不放过未落实，不能结案："
            + "；".join(f"{GATE_ZH[n]}（{gates[n].why}）" for n in self.open),
        )


GATE_ZH = {
    "cause": "原因未查清不放过",
    "responsibility": "责任人员未处理不放过",
    "education": "有关人员未受到教育不放过",
    "measures": "整改措施未落实不放过",
}


class Case(Aggregate):
    """One accountability case."""

    class Event(Aggregate.Event):
        actor: str
        occurred_at: datetime

    class Opened(Aggregate.Created, Event):
        """``occurred_at`` is when the incident happened."""

        kind: str
        description: str
        location: str
        department: str
        direct_person: str | None
        findings: list[str]
        source_hazard: str | None

        def apply(self, c: Case) -> None:
            c.kind = self.kind
            c.description = self.description
            c.location = self.location
            c.department = self.department
            c.incident_at = self.occurred_at
            c.direct_person = self.direct_person
            c.findings = list(self.findings)
            c.source_hazard = self.source_hazard
            c.state = CS.OPENED
            c.proposal = []
            c.responsible = {}
            c.removed = {}
            c.cause = None
            c.penalties = {}
            c.measures = []
            c.education = []
            c.closed_at = None

    class ResponsibilityProposed(Event):
        proposal: list[dict[str, Any]]

        def apply(self, c: Case) -> None:
            c.proposal = list(self.proposal)

    class CauseAnalysed(Event):
        analysis: str

        def apply(self, c: Case) -> None:
            c.cause = {"analysis": self.analysis, "by": self.actor, "at": self.occurred_at}
            c._advance(CS.CAUSE_ANALYSED)

    class ResponsibilityConfirmed(Event):
        person: str
        role: str
        basis: str

        def apply(self, c: Case) -> None:
            c.responsible[self.person] = {
                "person": self.person,
                "role": self.role,
                "basis": self.basis,
                "by": self.actor,
                "at": self.occurred_at,
            }
            c.removed.pop(self.person, None)
            c._advance(CS.RESPONSIBILITY_ASSIGNED)

    class ResponsibilityRemoved(Event):
        person: str
        reason: str

        def apply(self, c: Case) -> None:
            c.responsible.pop(self.person, None)
            c.penalties.pop(self.person, None)
            c.removed[self.person] = {
                "person": self.person,
                "reason": self.reason,
                "by": self.actor,
                "at": self.occurred_at,
            }

    class PenaltyDecided(Event):
        person: str
        kind: str
        amount: Decimal | None
        veto: bool
        #: the evaluation period a veto fails (YYYY-MM, the incident's month at the site)
        period: str

        def apply(self, c: Case) -> None:
            c.penalties[self.person] = {
                "person": self.person,
                "kind": self.kind,
                "amount": self.amount,
                "veto": self.veto,
                "period": self.period,
                "by": self.actor,
                "at": self.occurred_at,
            }
            c._advance(CS.PENALTIES_DECIDED)

    class MeasureAssigned(Event):
        hazard_id: str
        number: str
        measures: str
        responsible_person: str
        department: str
        deadline: datetime

        def apply(self, c: Case) -> None:
            c.measures = [
                *c.measures,
                {
                    "hazard_id": self.hazard_id,
                    "number": self.number,
                    "measures": self.measures,
                    "responsible_person": self.responsible_person,
                    "department": self.department,
                    "deadline": self.deadline,
                },
            ]
            c._advance(CS.MEASURES_ASSIGNED)

    class EducationRecorded(Event):
        topic: str
        held_at: datetime
        attendees: list[str]

        def apply(self, c: Case) -> None:
            c.education = [
                *c.education,
                {
                    "topic": self.topic,
                    "held_at": self.held_at,
                    "attendees": list(self.attendees),
                    "by": self.actor,
                },
            ]
            c._advance(CS.EDUCATED)

    class Closed(Event):
        gates: dict[str, Any]

        def apply(self, c: Case) -> None:
            c.closed_at = self.occurred_at
            c.state = CS.CLOSED

    if TYPE_CHECKING:  # attributes set by the events (no dataclass fields)
        kind: str
        description: str
        location: str
        department: str
        incident_at: datetime
        direct_person: str | None
        findings: list[str]
        source_hazard: str | None
        state: str
        proposal: list[dict[str, Any]]
        responsible: dict[str, dict[str, Any]]
        removed: dict[str, dict[str, Any]]
        cause: dict[str, Any] | None
        penalties: dict[str, dict[str, Any]]
        measures: list[dict[str, Any]]
        education: list[dict[str, Any]]
        closed_at: datetime | None

    # -- creation ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        case_id: UUID,
        kind: str,
        description: str,
        location: str,
        department: str,
        occurred_at: datetime,
        direct_person: str | None,
        findings: Sequence[str],
        source_hazard: str | None,
        actor: str,
        now: datetime,
    ) -> Case:
        if kind not in (*KINDS, AUTO_KIND):
            raise InvalidCommand(
                "kind",
                f"kind must be one of: {', '.join(KINDS)}",
                f"类型无效，应为：{'、'.join(KINDS)}",
            )
        _require_text("description", description)
        _require_text("location", location)
        if occurred_at > now + FUTURE_SLACK:
            raise InvalidCommand(
                "occurred_at", "occurred_at is in the future", "发生时间不能晚于当前时间"
            )
        return cls._create(
            cls.Opened,
            id=case_id,
            kind=kind,
            description=description,
            location=" ".join(location.split()),
            department=department,
            direct_person=direct_person,
            findings=list(findings),
            source_hazard=source_hazard,
            actor=actor,
            occurred_at=occurred_at,
            timestamp=now,
        )

    # -- queries -----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.state != CS.CLOSED

    def undecided(self) -> list[str]:
        """Proposed people neither confirmed nor removed."""
        return [
            p["person"]
            for p in self.proposal
            if p["person"] not in self.responsible and p["person"] not in self.removed
        ]

    def educated(self) -> set[str]:
        return {pid for session in self.education for pid in session["attendees"]}

    def gates(self, measure_states: Mapping[str, str]) -> dict[str, Gate]:
        """Each of the four gates, held or open, with why (``measure_states``: item id → state)."""
        return {
            "cause": self._cause_gate(),
            "responsibility": self._responsibility_gate(),
            "education": self._education_gate(),
            "measures": self._measures_gate(measure_states),
        }

    def allowed_commands(self, gates_held: bool = False) -> list[str]:
        if not self.is_open:
            return []
        return [*OPEN_COMMANDS, *(["close"] if gates_held else [])]

    # -- commands ----------------------------------------------------------------------------

    def propose(self, proposal: list[dict[str, Any]], *, actor: str, now: datetime) -> bool:
        """Record a (new) proposal; False when it is the same as the current one."""
        self._expect("proposal")
        if proposal == self.proposal:
            return False
        self._trigger(self.ResponsibilityProposed, actor, now, proposal=proposal)
        return True

    def record_cause(self, *, analysis: str, actor: str, now: datetime) -> None:
        self._expect("cause")
        _require_text("analysis", analysis)
        self._trigger(self.CauseAnalysed, actor, now, analysis=analysis.strip())

    def confirm(
        self, *, person: str, role: str | None, basis: str, actor: str, now: datetime
    ) -> None:
        """Confirm a proposed person (role and basis default to the proposal's) or add one."""
        self._expect("responsibility")
        proposed = next((p for p in self.proposal if p["person"] == person), None)
        if role is None or not role.strip():
            if proposed is None:
                raise InvalidCommand(
                    "role",
                    "a person who was not proposed needs a role",
                    "追加未在建议名单中的人员须说明责任类别",
                )
            role = str(proposed["role"])
        if role not in RESPONSIBILITY_ROLES:
            raise InvalidCommand(
                "role",
                f"role must be one of: {', '.join(RESPONSIBILITY_ROLES)}",
                f"责任类别无效，应为：{'、'.join(RESPONSIBILITY_ROLES)}",
            )
        basis = basis.strip()
        if not basis:
            if proposed is None:
                raise InvalidCommand(
                    "basis",
                    "a person who was not proposed needs a basis",
                    "追加未在建议名单中的人员须说明依据",
                )
            basis = str(proposed["basis"])
        current = self.responsible.get(person)
        if current is not None and (current["role"], current["basis"]) == (role, basis):
            return  # the same confirmation again: nothing new
        self._trigger(
            self.ResponsibilityConfirmed, actor, now, person=person, role=role, basis=basis
        )

    def remove(self, *, person: str, reason: str, actor: str, now: datetime) -> None:
        self._expect("responsibility/remove")
        _require_text("reason", reason)
        proposed = any(p["person"] == person for p in self.proposal)
        if person not in self.responsible and not (proposed and person not in self.removed):
            raise InvalidCommand(
                "person",
                f"{person!r} is neither proposed nor confirmed in this case",
                f"“{person}”不在本案建议或认定的责任人中",
            )
        self._trigger(self.ResponsibilityRemoved, actor, now, person=person, reason=reason.strip())

    def decide_penalty(
        self,
        *,
        person: str,
        kind: str,
        amount: Decimal | None,
        veto: bool,
        period: str,
        actor: str,
        now: datetime,
    ) -> None:
        self._expect("penalties")
        if person not in self.responsible:
            raise InvalidCommand(
                "person",
                f"{person!r} is not a confirmed responsible person of this case",
                f"“{person}”不是本案已认定的责任人",
            )
        if kind not in PENALTY_KINDS:
            raise InvalidCommand(
                "kind",
                f"kind must be one of: {', '.join(PENALTY_KINDS)}",
                f"处理类型无效，应为：{'、'.join(PENALTY_KINDS)}",
            )
        if kind == "fine" and (amount is None or amount <= 0):
            raise InvalidCommand(
                "amount", "a fine needs a positive amount", "罚款须填写大于零的金额"
            )
        if amount is not None and amount < 0:
            raise InvalidCommand("amount", "amount cannot be negative", "金额不能为负数")
        self._trigger(
            self.PenaltyDecided,
            actor,
            now,
            person=person,
            kind=kind,
            amount=amount,
            veto=veto,
            period=period,
        )

    def assign_measure(
        self,
        *,
        hazard_id: UUID,
        number: str,
        measures: str,
        responsible_person: str,
        department: str,
        deadline: datetime,
        actor: str,
        now: datetime,
    ) -> None:
        self._expect("measures")
        self._trigger(
            self.MeasureAssigned,
            actor,
            now,
            hazard_id=str(hazard_id),
            number=number,
            measures=measures,
            responsible_person=responsible_person,
            department=department,
            deadline=deadline,
        )

    def record_education(
        self,
        *,
        topic: str,
        held_at: datetime,
        attendees: Sequence[str],
        actor: str,
        now: datetime,
    ) -> None:
        self._expect("education")
        _require_text("topic", topic)
        people = list(dict.fromkeys(a.strip() for a in attendees if a and a.strip()))
        if not people:
            raise InvalidCommand(
                "attendees", "at least one attendee is required", "至少需要一名参加人员"
            )
        if held_at > now + FUTURE_SLACK:
            raise InvalidCommand(
                "held_at", "the session is in the future", "教育时间不能晚于当前时间"
            )
        self._trigger(
            self.EducationRecorded,
            actor,
            now,
            topic=topic.strip(),
            held_at=held_at,
            attendees=people,
        )

    def close(self, *, gates: Mapping[str, Gate], actor: str, now: datetime) -> None:
        if not self.is_open:
            raise IllegalTransition("close", self.state, [])
        if not all(gate.held for gate in gates.values()):
            raise GatesOpen(gates)
        self._trigger(
            self.Closed, actor, now, gates={name: gate.as_dict() for name, gate in gates.items()}
        )

    # -- gates -------------------------------------------------------------------------------

    def _cause_gate(self) -> Gate:
        if self.cause is None:
            return Gate(False, "尚未记录原因分析", "no cause analysis recorded")
        text = str(self.cause["analysis"])
        short = text if len(text) <= 60 else text[:60] + "…"
        return Gate(True, f"原因已查清：{short}", "cause analysis recorded")

    def _responsibility_gate(self) -> Gate:
        if not self.responsible:
            return Gate(False, "尚未认定责任人", "no responsible person confirmed")
        undecided = self.undecided()
        no_penalty = [p for p in self.responsible if p not in self.penalties]
        zh, en = [], []
        if undecided:
            zh.append(f"建议名单中待认定或排除：{'、'.join(undecided)}")
            en.append(f"proposed but neither confirmed nor removed: {', '.join(undecided)}")
        if no_penalty:
            zh.append(f"未作出处理决定：{'、'.join(no_penalty)}")
            en.append(f"no penalty decision for: {', '.join(no_penalty)}")
        if zh:
            return Gate(False, "；".join(zh), "; ".join(en))
        return Gate(
            True,
            f"{len(self.responsible)} 名责任人均已作出处理决定",
            f"all {len(self.responsible)} responsible people have a penalty decision",
        )

    def _education_gate(self) -> Gate:
        if not self.education:
            return Gate(False, "尚未记录教育", "no education session recorded")
        missing = [p for p in self.responsible if p not in self.educated()]
        if missing:
            return Gate(
                False,
                f"未参加教育的责任人：{'、'.join(missing)}",
                f"responsible people not educated: {', '.join(missing)}",
            )
        if not self.responsible:
            return Gate(
                False, "尚未认定责任人，无法确认教育覆盖", "no responsible person confirmed"
            )
        return Gate(
            True,
            f"{len(self.education)} 次教育，覆盖全部责任人",
            f"{len(self.education)} session(s) covering every responsible person",
        )

    def _measures_gate(self, states: Mapping[str, str]) -> Gate:
        if not self.measures:
            return Gate(False, "尚未落实整改措施", "no measure assigned")
        open_items = [
            f"{m['number']}（{states.get(m['hazard_id'], '?')}）"
            for m in self.measures
            if states.get(m["hazard_id"]) != "CLOSED"
        ]
        if open_items:
            return Gate(
                False,
                f"整改未闭环：{'、'.join(open_items)}",
                f"measure items not closed: {', '.join(open_items)}",
            )
        return Gate(
            True,
            f"{len(self.measures)} 项整改措施均已复查销号",
            f"all {len(self.measures)} measure item(s) closed",
        )

    # -- helpers -----------------------------------------------------------------------------

    def _advance(self, state: str) -> None:
        if CASE_STATES.index(state) > CASE_STATES.index(self.state):
            self.state = state

    def _expect(self, command: str) -> None:
        if not self.is_open:
            raise IllegalTransition(command, self.state, [])

    def _trigger(self, event_class: Any, actor: str, now: datetime, **kwargs: Any) -> None:
        self.trigger_event(
            event_class,
            actor=actor,
            occurred_at=now,
            timestamp=max(now, self.modified_on),
            **kwargs,
        )


def _require_text(field: str, value: str) -> None:
    if not value or not value.strip():
        raise InvalidCommand(field, f"{field} is required", f"{field} 为必填项")
