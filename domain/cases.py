"""Accountability cases: opening (by hand or when an item reaches the case level), the proposed
responsibility chain, cause, penalties, measures (each a Hazard item in the normal loop),
education and closing behind the four gates.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from domain.app_base import SYSTEM_ACTOR, AppBase, CommandResult, position_of
from domain.case import AUTO_KIND, Case, Gate
from domain.errors import Contention, InvalidCommand, NotFound, VersionConflict
from domain.hazard import Hazard
from domain.ids import case_id_for_hazard
from domain.organisation import ORGANISATION_ID
from domain.responsibility import Evidence, org_in_effect, propose, window
from domain.site_visit import VisitIndex

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.sequence import NumberSequence

#: measures are filed as "problem" items (numbered WT-…) and go through the normal loop
MEASURE_KIND = "problem"
MEASURE_PREFIX = "WT"
MEASURE_CONTINGENCY = "整改期间如出现险情，立即停止作业、撤出人员，并汇报调度室"


@dataclass(frozen=True)
class MeasureResult:
    hazard_id: UUID
    number: str
    state: str
    version: int
    case: CommandResult


class CaseCommands(AppBase):
    """Commands and queries of accountability cases."""

    #: where the 24-hour rule finds site visits (the ``site_visits`` read model)
    visit_index: VisitIndex | None = None

    if TYPE_CHECKING:  # provided by SafeLoop (the day's numbering is shared with filing)
        _numbering: threading.Lock

        def _sequence(self, name: str, now: datetime) -> NumberSequence: ...

        def _counter_saved(self, *sequences: NumberSequence) -> None: ...

    # -- opening -----------------------------------------------------------------------------

    def open_case(
        self,
        *,
        kind: str,
        description: str,
        location: str,
        department: str,
        occurred_at: datetime,
        direct_person: str | None,
        findings: Sequence[UUID] = (),
        actor: str,
        now: datetime,
    ) -> CommandResult:
        """Open a case by hand and record the proposed responsibility chain."""
        org = self.org()
        self._require_department(department)
        if direct_person is not None and org.person(direct_person) is None:
            raise InvalidCommand(
                "direct_person", f"unknown person {direct_person!r}", f"未知人员“{direct_person}”"
            )
        for hazard_id in findings:
            try:
                self._get(Hazard, hazard_id, "hazard")
            except NotFound:
                raise InvalidCommand(
                    "findings", f"unknown finding {hazard_id}", f"未找到关联的隐患 {hazard_id}"
                ) from None
        case = Case.open(
            case_id=uuid4(),
            kind=kind,
            description=description,
            location=location,
            department=department,
            occurred_at=occurred_at,
            direct_person=direct_person,
            findings=[str(h) for h in dict.fromkeys(findings)],
            source_hazard=None,
            actor=actor,
            now=now,
        )
        case.propose(self._proposal(case, None), actor=actor, now=now)
        return self._save_case(case)

    def _cases_for_flagged(self, hazard: Hazard, now: datetime) -> list[Case]:
        """The case to save with an item just flagged for one (none if not flagged now)."""
        if not any(isinstance(e, Hazard.FlaggedForCase) for e in hazard.pending_events):
            return []
        case_id = case_id_for_hazard(hazard.id)
        if case_id in self.repository:
            return []
        notice = hazard.notice or {}
        direct = notice.get("responsible_person")
        case = Case.open(
            case_id=case_id,
            kind=AUTO_KIND,
            description=(
                f"{hazard.number}（{hazard.location}）逾期未整改，"
                f"已 {hazard.overdue_periods} 次逾期、升级至 {hazard.escalation_level} 级督办，"
                f"自动立案：{hazard.description}"
            ),
            location=hazard.location,
            department=hazard.department or "",
            occurred_at=hazard.reported_at,
            direct_person=direct,
            findings=[str(hazard.id)],
            source_hazard=str(hazard.id),
            actor=SYSTEM_ACTOR,
            now=now,
        )
        case.propose(self._proposal(case, hazard.number), actor=SYSTEM_ACTOR, now=now)
        return [case]

    def _proposal(self, case: Case, source_number: str | None) -> list[dict[str, Any]]:
        """The responsibility chain for the case's incident (``source_number``: the overdue
        item's number, for a case opened by the escalation ladder)."""
        direct_basis: tuple[str, str]
        direct_evidence: Evidence
        if case.source_hazard is not None:
            direct_basis = (
                f"{source_number} 整改通知书的责任人，逾期未整改",
                f"responsible person on the notice of {source_number}, not rectified in time",
            )
            direct_evidence = {"type": "hazard", "event": "NoticeIssued", "id": case.source_hazard}
        else:
            direct_basis = (
                "立案时认定的直接责任人",
                "named as the direct person when the case was opened",
            )
            direct_evidence = {"type": "case", "event": "Opened", "id": str(case.id)}
        at = case.incident_at
        org_at = org_in_effect(self.events.get(ORGANISATION_ID), at)
        start, end = window(at)
        visits = self.visit_index.present(case.location, start, end) if self.visit_index else []
        return propose(
            org_at,
            department=case.department,
            location=case.location,
            direct_person=case.direct_person,
            direct_basis=direct_basis,
            direct_evidence=direct_evidence,
            visits=visits,
            zone=self.policy.zone,
        )

    # -- the steps ---------------------------------------------------------------------------

    def refresh_proposal(
        self, case_id: UUID, *, actor: str, now: datetime, expected_version: int | None = None
    ) -> CommandResult:
        """Propose again (e.g. after the attendance records came in); recorded only if changed."""

        def refresh(case: Case) -> None:
            number = None
            if case.source_hazard is not None:
                number = self._get(Hazard, UUID(case.source_hazard), "hazard").number
            case.propose(self._proposal(case, number), actor=actor, now=now)

        return self._case_command(case_id, expected_version, refresh)

    def record_cause(
        self,
        case_id: UUID,
        *,
        analysis: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._case_command(
            case_id,
            expected_version,
            lambda c: c.record_cause(analysis=analysis, actor=actor, now=now),
        )

    def confirm_responsibility(
        self,
        case_id: UUID,
        *,
        person: str,
        role: str | None,
        basis: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        def confirm(case: Case) -> None:
            # someone proposed as of the incident may have left the organisation since
            if not self._known(case, person):
                raise InvalidCommand("person", f"unknown person {person!r}", f"未知人员“{person}”")
            case.confirm(person=person, role=role, basis=basis, actor=actor, now=now)

        return self._case_command(case_id, expected_version, confirm)

    def remove_responsibility(
        self,
        case_id: UUID,
        *,
        person: str,
        reason: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._case_command(
            case_id,
            expected_version,
            lambda c: c.remove(person=person, reason=reason, actor=actor, now=now),
        )

    def decide_penalty(
        self,
        case_id: UUID,
        *,
        person: str,
        kind: str,
        amount: Decimal | None,
        veto: bool,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        """A penalty for a confirmed person; a veto fails the case's unit for the month
        (at the site) in which the incident happened."""
        zone = self.policy.zone
        return self._case_command(
            case_id,
            expected_version,
            lambda c: c.decide_penalty(
                person=person,
                kind=kind,
                amount=amount,
                veto=veto,
                period=f"{c.incident_at.astimezone(zone):%Y-%m}",
                actor=actor,
                now=now,
            ),
        )

    def assign_measure(
        self,
        case_id: UUID,
        *,
        measures: str,
        responsible_person: str,
        department: str,
        deadline: datetime,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
        attempts: int = 20,
    ) -> MeasureResult:
        """Spawn a measure: a Hazard item filed, screened and noticed, saved with the case."""
        org = self.org()
        if org.person(responsible_person) is None:
            raise InvalidCommand(
                "responsible_person",
                f"unknown person {responsible_person!r}",
                f"未知人员“{responsible_person}”",
            )
        self._require_department(department)
        unit = org.department(department) or {}
        day = f"{self.policy.local_date(now):%Y%m%d}"
        for attempt in range(attempts):
            case = self._get(Case, case_id, "case")
            self._check_case_version(case, expected_version)
            with self._numbering:
                sequence = self._sequence(f"hazard:{day}", now)
                number = f"{MEASURE_PREFIX}-{day}-{sequence.next(now):04d}"
                hazard = Hazard.report(
                    hazard_id=uuid4(),
                    number=number,
                    kind=MEASURE_KIND,
                    description=f"问责整改措施：{measures}",
                    location=case.location,
                    reporter=actor,
                    reporter_role="inspector",
                    occurred_at=now,
                    department=department,
                    client_ref=None,
                    actor=actor,
                    now=now,
                )
                hazard.screen(grade="general", department=department, actor=actor, now=now)
                hazard.issue_notice(
                    responsible_person=responsible_person,
                    measures=measures,
                    funds=Decimal(0),
                    deadline=deadline,
                    contingency=MEASURE_CONTINGENCY,
                    unit_head=unit.get("unit_head"),
                    copies=org.resolve_copies(self.policy.notice_copies, department),
                    actor=actor,
                    now=now,
                )
                case.assign_measure(
                    hazard_id=hazard.id,
                    number=number,
                    measures=measures,
                    responsible_person=responsible_person,
                    department=department,
                    deadline=deadline,
                    actor=actor,
                    now=now,
                )
                try:
                    recordings = self.save(case, hazard, sequence)
                except IntegrityError:
                    pass  # the day's counter moved, or the case changed: look again
                else:
                    self._counter_saved(sequence)
                    return MeasureResult(
                        hazard.id,
                        number,
                        hazard.state,
                        hazard.version,
                        CommandResult(
                            case.id, case.state, case.version, position_of(recordings), False
                        ),
                    )
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise Contention()

    def record_education(
        self,
        case_id: UUID,
        *,
        topic: str,
        held_at: datetime,
        attendees: Sequence[str],
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        def educate(case: Case) -> None:
            unknown = [a for a in attendees if not self._known(case, a)]
            if unknown:
                raise InvalidCommand(
                    "attendees",
                    f"unknown people: {', '.join(unknown)}",
                    f"未知人员：{'、'.join(unknown)}",
                )
            case.record_education(
                topic=topic, held_at=held_at, attendees=attendees, actor=actor, now=now
            )

        return self._case_command(case_id, expected_version, educate)

    def close_case(
        self, case_id: UUID, *, actor: str, now: datetime, expected_version: int | None = None
    ) -> CommandResult:
        """Close the case; refused (GatesOpen) while any of the four gates is open."""
        return self._case_command(
            case_id,
            expected_version,
            lambda c: c.close(gates=self.case_gates(c), actor=actor, now=now),
        )

    # -- queries -----------------------------------------------------------------------------

    def case(self, case_id: UUID, as_of: datetime | None = None) -> Case:
        """The case now, or as it was recorded at ``as_of``."""
        if as_of is None:
            return self._get(Case, case_id, "case")
        case = self.replay_as_of(case_id, as_of)
        if not isinstance(case, Case):
            raise NotFound("case", str(case_id))
        return case

    def case_events(self, case_id: UUID) -> list[Case.Event]:
        events = [e for e in self.events.get(case_id) if isinstance(e, Case.Event)]
        if not events:
            raise NotFound("case", str(case_id))
        return events

    def measure_states(self, case: Case, as_of: datetime | None = None) -> dict[str, str]:
        """The state of each measure's item (by id)."""
        states: dict[str, str] = {}
        for measure in case.measures:
            hazard_id = measure["hazard_id"]
            if as_of is None:
                hazard = self._get(Hazard, UUID(hazard_id), "hazard")
            else:
                found = self.replay_as_of(UUID(hazard_id), as_of)
                if not isinstance(found, Hazard):
                    continue
                hazard = found
            states[hazard_id] = hazard.state
        return states

    def case_gates(self, case: Case, as_of: datetime | None = None) -> dict[str, Gate]:
        return case.gates(self.measure_states(case, as_of))

    # -- helpers -----------------------------------------------------------------------------

    def _known(self, case: Case, person: str) -> bool:
        """In the organisation now, or named in the case (as of the incident)."""
        return (
            self.org().person(person) is not None
            or person in case.responsible
            or any(p["person"] == person for p in case.proposal)
        )

    def _check_case_version(self, case: Case, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != case.version:
            raise VersionConflict(case.state, case.allowed_commands(), case.version)

    def _case_command(
        self, case_id: UUID, expected_version: int | None, change: Callable[[Case], None]
    ) -> CommandResult:
        case = self._get(Case, case_id, "case")
        self._check_case_version(case, expected_version)
        change(case)
        return self._save_case(case)

    def _save_case(self, case: Case) -> CommandResult:
        if not case.pending_events:
            return CommandResult(case.id, case.state, case.version, None, False)
        created = case.pending_events[0].originator_version == 1
        try:
            recordings = self.save(case)
        except IntegrityError:
            current = self._get(Case, case.id, "case")
            raise VersionConflict(
                current.state, current.allowed_commands(), current.version
            ) from None
        return CommandResult(case.id, case.state, case.version, position_of(recordings), created)
