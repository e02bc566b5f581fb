"""Training and certificates: sessions by level, attendance and exam results; each person's
certificates with their expiry, reminders before it, and the violation a lapsed certificate
on site becomes.

A person's certificate of one type is one :class:`Certification` (a natural key: person and
type); a renewal is an event of it. Every certificate a person holds is required for the work
they do: once it has lapsed, a site visit of theirs after the expiry is a violation (三违),
filed automatically with the certificate as its evidence — in the same save as the
certificate's ``LapsedOnSite`` event, and keyed by (person, type, expiry), so a repeated check
files nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.app_base import SYSTEM_ACTOR, CommandResult, position_of
from domain.errors import Contention, InvalidCommand, NotFound, VersionConflict
from domain.findings import FindingCommands
from domain.ids import certification_id, hazard_id_for_client_ref
from domain.sequence import NumberSequence
from domain.site_visit import Visit, utc_text

LEVELS = ("mine", "unit", "team", "special")
MAX_TEXT = 200
#: how far back a certificate may have been issued, and how far ahead it may expire
MAX_SPAN = timedelta(days=50 * 366)


class Certification(Aggregate):
    """One person's certificate of one type, renewed over the years."""

    class Event(Aggregate.Event):
        actor: str
        occurred_at: datetime

    class Recorded(Aggregate.Created, Event):
        person: str
        certificate_type: str
        number: str
        issued_at: datetime
        expires_at: datetime

        def apply(self, c: Certification) -> None:
            c.person = self.person
            c.certificate_type = self.certificate_type
            _current(c, self)

    class Renewed(Event):
        number: str
        issued_at: datetime
        expires_at: datetime

        def apply(self, c: Certification) -> None:
            _current(c, self)

    class ExpiryReminded(Event):
        """A reminder ``days_ahead`` days before the expiry, to the holder and unit head."""

        person: str
        certificate_type: str
        number: str
        expires_at: datetime
        days_ahead: float
        recipients: list[str]

        def apply(self, c: Certification) -> None:
            c.reminded_days = [*c.reminded_days, self.days_ahead]

    class LapsedOnSite(Event):
        """The holder was on site after the certificate lapsed: a violation was filed."""

        number: str
        expires_at: datetime
        visit_at: datetime
        location: str
        hazard_id: UUID
        hazard_number: str

        def apply(self, c: Certification) -> None:
            c.lapse_finding = self.hazard_id

    if TYPE_CHECKING:  # attributes set by the events (no dataclass fields)
        person: str
        certificate_type: str
        number: str
        issued_at: datetime
        expires_at: datetime
        #: when the current certificate was recorded (reminders due before it are not sent)
        recorded_at: datetime
        reminded_days: list[float]
        #: the violation filed for the current certificate's lapse (None: none yet)
        lapse_finding: UUID | None

    def same(self, number: str, issued_at: datetime, expires_at: datetime) -> bool:
        return (self.number, self.issued_at, self.expires_at) == (number, issued_at, expires_at)

    def lapsed_at(self, now: datetime) -> bool:
        return self.expires_at <= now

    def reminder_due(self, now: datetime, days: Sequence[float]) -> float | None:
        """The reminder (days ahead) due at ``now``, once each, the nearest when several are."""
        if now >= self.expires_at:
            return None
        due = [
            d
            for d in days
            if self.expires_at - timedelta(days=d) <= now
            and self.expires_at - timedelta(days=d) > self.recorded_at
        ]
        if not due:
            return None
        nearest = min(due)
        if self.reminded_days and nearest >= min(self.reminded_days):
            return None
        return nearest


def _current(c: Certification, e: Any) -> None:
    c.number = e.number
    c.issued_at = e.issued_at
    c.expires_at = e.expires_at
    c.recorded_at = e.occurred_at
    c.reminded_days = []
    c.lapse_finding = None


class TrainingSession(Aggregate):
    """A training session (mine-, unit-, team-level or special-operation) and who attended."""

    class Held(Aggregate.Created):
        level: str
        topic: str
        department: str | None
        held_at: datetime
        #: ``{person, score, passed}`` (score and passed None when there was no exam)
        attendees: list[dict[str, Any]]
        actor: str

        def apply(self, t: TrainingSession) -> None:
            t.level = self.level
            t.topic = self.topic
            t.department = self.department
            t.held_at = self.held_at
            t.attendees = [dict(a) for a in self.attendees]

    if TYPE_CHECKING:
        level: str
        topic: str
        department: str | None
        held_at: datetime
        attendees: list[dict[str, Any]]


# -- ports --------------------------------------------------------------------------------------


class CertificateIndex(Protocol):
    """The ``certificates`` read model, as the tick sees it (paged like the deadlines)."""

    def reminders_due(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]: ...

    def lapsed_unfound(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]: ...


class PersonVisits(Protocol):
    """The ``site_visits`` read model: a person's visits with ``start <= at <= end``, oldest
    first."""

    def of_person(self, person: str, start: datetime, end: datetime) -> list[Visit]: ...


# -- input --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateRow:
    person: str
    certificate_type: str
    number: str
    issued_at: datetime
    expires_at: datetime


@dataclass
class CertificatesImported:
    created: int = 0
    renewed: int = 0
    unchanged: int = 0
    #: (row number, field, en, zh)
    rejected: list[tuple[int, str, str, str]] = field(default_factory=list)
    position: int | None = None


def check_certificate(row: CertificateRow, known_person: bool, now: datetime) -> None:
    if not known_person:
        raise InvalidCommand("person", f"unknown person {row.person!r}", f"未知人员“{row.person}”")
    for name, value in (("type", row.certificate_type), ("number", row.number)):
        if not value.strip():
            raise InvalidCommand(name, f"{name} is required", f"{name} 为必填项")
        if len(value) > MAX_TEXT:
            raise InvalidCommand(name, f"{name} is too long", f"{name} 过长")
    for name, instant in (("issued_at", row.issued_at), ("expires_at", row.expires_at)):
        if instant.tzinfo is None:
            raise InvalidCommand(name, "the instant needs a timezone", "时间必须带时区")
        if abs(instant - now) > MAX_SPAN:
            raise InvalidCommand(name, "the date is out of range", "日期超出范围")
    if row.issued_at > now + timedelta(minutes=5):
        raise InvalidCommand("issued_at", "issued_at is in the future", "发证时间不能晚于当前时间")
    if row.expires_at <= row.issued_at:
        raise InvalidCommand(
            "expires_at",
            "the certificate must expire after it was issued",
            "有效期必须晚于发证时间",
        )


# -- commands -----------------------------------------------------------------------------------


class TrainingCommands(FindingCommands):
    """Certificates (one at a time or imported), training sessions, and the tick's checks."""

    certificate_index: CertificateIndex | None = None
    person_visits: PersonVisits | None = None

    def record_certificate(
        self, row: CertificateRow, *, actor: str, now: datetime
    ) -> CommandResult:
        """Record a certificate; the same one again changes nothing, a newer one renews."""
        row = _clean(row)
        check_certificate(row, self.org().person(row.person) is not None, now)
        cert, created = self._certificate_change(row, actor, now)
        if not cert.pending_events:
            return CommandResult(cert.id, "RECORDED", cert.version, None, False)
        try:
            recordings = self.save(cert)
        except IntegrityError:
            current = self._get(Certification, cert.id, "certificate")
            raise VersionConflict("RECORDED", [], current.version) from None
        return CommandResult(cert.id, "RECORDED", cert.version, position_of(recordings), created)

    def import_certificates(
        self,
        rows: Iterable[tuple[int, CertificateRow | InvalidCommand]],
        *,
        actor: str,
        now: datetime,
        progress: Callable[[int], None] | None = None,
        batch: int = 200,
    ) -> CertificatesImported:
        """Record many certificates (``(row number, row or its parse error)``), ``batch`` per
        transaction; bad rows are rejected with their reason and the rest are recorded."""
        result = CertificatesImported()
        org = self.org()
        pending: dict[UUID, Certification] = {}

        def flush() -> None:
            if pending:
                recordings = self.save(*pending.values())
                result.position = position_of(recordings) or result.position
                pending.clear()

        for line, item in rows:
            if progress is not None:
                progress(1)
            try:
                if isinstance(item, InvalidCommand):
                    raise item
                row = _clean(item)
                check_certificate(row, org.person(row.person) is not None, now)
                key = certification_id(row.person, row.certificate_type)
                if key in pending:
                    flush()
                cert, created = self._certificate_change(row, actor, now)
            except InvalidCommand as e:
                result.rejected.append((line, e.field, e.en, e.zh))
                continue
            if not cert.pending_events:
                result.unchanged += 1
                continue
            if created:
                result.created += 1
            else:
                result.renewed += 1
            pending[cert.id] = cert
            if len(pending) >= batch:
                flush()
        flush()
        return result

    def _certificate_change(
        self, row: CertificateRow, actor: str, now: datetime
    ) -> tuple[Certification, bool]:
        key = certification_id(row.person, row.certificate_type)
        try:
            cert = self._get(Certification, key, "certificate")
        except NotFound:
            created = Certification._create(
                Certification.Recorded,
                id=key,
                person=row.person,
                certificate_type=row.certificate_type,
                number=row.number,
                issued_at=row.issued_at,
                expires_at=row.expires_at,
                actor=actor,
                occurred_at=now,
                timestamp=now,
            )
            return created, True
        if not cert.same(row.number, row.issued_at, row.expires_at):
            if row.expires_at < cert.expires_at:
                raise InvalidCommand(
                    "expires_at",
                    "a newer certificate of this type is on record",
                    "该类证书已有更新的记录",
                )
            cert.trigger_event(
                Certification.Renewed,
                number=row.number,
                issued_at=row.issued_at,
                expires_at=row.expires_at,
                actor=actor,
                occurred_at=now,
                timestamp=max(now, cert.modified_on),
            )
        return cert, False

    def certificate(self, person: str, certificate_type: str) -> Certification:
        return self._get(Certification, certification_id(person, certificate_type), "certificate")

    def record_training_session(
        self,
        *,
        level: str,
        topic: str,
        department: str | None,
        held_at: datetime,
        attendees: Sequence[dict[str, Any]],
        actor: str,
        now: datetime,
    ) -> CommandResult:
        if level not in LEVELS:
            raise InvalidCommand(
                "level", f"level must be one of: {', '.join(LEVELS)}", "培训级别无效"
            )
        if not topic.strip() or len(topic) > MAX_TEXT:
            raise InvalidCommand(
                "topic",
                "topic is required (at most 200 characters)",
                "培训主题为必填项（不超过200字）",
            )
        if department is not None:
            self._require_department(department)
        if held_at.tzinfo is None or held_at > now + timedelta(minutes=5):
            raise InvalidCommand(
                "held_at",
                "held_at must be a past instant with a timezone",
                "培训时间必须是带时区的过去时间",
            )
        org = self.org()
        seen: set[str] = set()
        for a in attendees:
            pid = a["person"]
            if org.person(pid) is None:
                raise InvalidCommand("attendees", f"unknown person {pid!r}", f"未知人员“{pid}”")
            if pid in seen:
                raise InvalidCommand("attendees", f"{pid!r} is listed twice", f"“{pid}”重复")
            seen.add(pid)
        if not attendees:
            raise InvalidCommand(
                "attendees", "at least one attendee is required", "至少需要一名参训人员"
            )
        session = TrainingSession._create(
            TrainingSession.Held,
            id=uuid4(),
            level=level,
            topic=topic.strip(),
            department=department,
            held_at=held_at,
            attendees=[
                {"person": a["person"], "score": a.get("score"), "passed": a.get("passed")}
                for a in attendees
            ],
            actor=actor,
            timestamp=now,
        )
        recordings = self.save(session)
        return CommandResult(session.id, "HELD", session.version, position_of(recordings))

    # -- the tick's checks -------------------------------------------------------------------

    def remind_certificate(self, cert_id: UUID, now: datetime) -> bool:
        cert = self._get(Certification, cert_id, "certificate")
        days = self.policy.certificate_reminder_days
        ahead = cert.reminder_due(now, days)
        if ahead is None:
            return False
        org = self.org()
        person = org.person(cert.person) or {}
        department = org.department(person.get("department") or "") or {}
        recipients = [p for p in dict.fromkeys([cert.person, department.get("unit_head")]) if p]
        cert.trigger_event(
            Certification.ExpiryReminded,
            person=cert.person,
            certificate_type=cert.certificate_type,
            number=cert.number,
            expires_at=cert.expires_at,
            days_ahead=float(ahead),
            recipients=recipients,
            actor=SYSTEM_ACTOR,
            occurred_at=now,
            timestamp=max(now, cert.modified_on),
        )
        try:
            self.save(cert)
        except IntegrityError:
            raise VersionConflict("RECORDED", [], cert.version) from None
        return True

    def check_lapse(self, cert_id: UUID, now: datetime) -> UUID | None:
        """File the violation for a lapsed certificate whose holder was on site after the
        expiry (once per certificate); the finding's id, or None when there is nothing to do."""
        if self.person_visits is None:
            raise RuntimeError("the lapse check needs the site-visit index (person_visits)")
        cert = self._get(Certification, cert_id, "certificate")
        if not cert.lapsed_at(now) or cert.lapse_finding is not None:
            return None
        visits = self.person_visits.of_person(cert.person, cert.expires_at, now)
        if not visits:
            return None
        visit = visits[0]
        client_ref = (
            f"certificate:{cert.person}:{cert.certificate_type}:{utc_text(cert.expires_at)}"
        )
        hazard_id = hazard_id_for_client_ref(client_ref)
        person = self.org().person(cert.person) or {}
        zone = self.policy.zone

        def build(sequence: NumberSequence) -> list[Aggregate]:
            current = self._get(Certification, cert_id, "certificate")
            if current.lapse_finding is not None or hazard_id in self.repository:
                return []
            hazard = self._new_finding(
                sequence,
                hazard_id=hazard_id,
                kind="violation",
                description=(
                    f"{person.get('name') or cert.person}（{cert.person}）的{cert.certificate_type}"
                    f"（证号 {cert.number}）已于 {cert.expires_at.astimezone(zone):%Y-%m-%d} 过期，"
                    f"仍于 {visit.at.astimezone(zone):%Y-%m-%d %H:%M} "
                    f"在{visit.location}作业（无证上岗）"
                ),
                location=visit.location,
                reporter=SYSTEM_ACTOR,
                reporter_role="inspector",
                occurred_at=visit.at,
                department=person.get("department"),
                client_ref=client_ref,
                source={
                    "type": "certificate",
                    "id": str(cert_id),
                    "person": cert.person,
                    "certificate_type": cert.certificate_type,
                    "number": cert.number,
                    "expires_at": utc_text(cert.expires_at),
                    "visit": str(visit.id),
                },
                actor=SYSTEM_ACTOR,
                now=now,
            )
            current.trigger_event(
                Certification.LapsedOnSite,
                number=current.number,
                expires_at=current.expires_at,
                visit_at=visit.at,
                location=visit.location,
                hazard_id=hazard_id,
                hazard_number=hazard.number,
                actor=SYSTEM_ACTOR,
                occurred_at=now,
                timestamp=max(now, current.modified_on),
            )
            return [current, hazard]

        if self._save_with_findings(build, now=now) is None:
            return None
        return hazard_id

    def check_certificates(self, now: datetime, batch_size: int = 500) -> tuple[int, int, int]:
        """The tick's part: expiry reminders due, and lapsed certificates seen on site.
        Returns (reminders, violations, conflicts); a rerun adds nothing."""
        index = self.certificate_index
        if index is None:
            return 0, 0, 0
        reminded = violations = conflicts = 0
        for cert_id in _paged(index.reminders_due, now, batch_size):
            try:
                reminded += self.remind_certificate(cert_id, now)
            except VersionConflict:
                conflicts += 1
            except NotFound:
                continue
        if self.person_visits is not None:
            for cert_id in _paged(index.lapsed_unfound, now, batch_size):
                try:
                    violations += self.check_lapse(cert_id, now) is not None
                except Contention:
                    conflicts += 1
                except NotFound:
                    continue
        return reminded, violations, conflicts


def _clean(row: CertificateRow) -> CertificateRow:
    return CertificateRow(
        row.person.strip(),
        " ".join(row.certificate_type.split()),
        row.number.strip(),
        row.issued_at,
        row.expires_at,
    )


def _paged(
    query: Callable[[datetime, tuple[datetime, UUID] | None, int], list[tuple[datetime, UUID]]],
    now: datetime,
    batch_size: int,
) -> list[UUID]:
    found: list[UUID] = []
    after: tuple[datetime, UUID] | None = None
    while True:
        rows = query(now, after, batch_size)
        found += [key for _, key in rows]
        if len(rows) < batch_size:
            return found
        after = rows[-1]
