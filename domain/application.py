"""The safeloop Application: each command loads an aggregate, calls one method, saves.

Time (``now``) and the acting person come from the caller. ``save`` returns recordings
whose notification ids let callers wait until the read models have caught up.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.credentials import Credential
from domain.errors import Contention, InvalidCommand, NotFound, VersionConflict
from domain.hazard import Hazard
from domain.ids import hazard_id_for_client_ref, sequence_id
from domain.organisation import ORGANISATION_ID, Organisation
from domain.policy import SitePolicy
from domain.sequence import NumberSequence

NUMBER_PREFIX = {"hazard": "YH", "violation": "SW", "problem": "WT"}
SYSTEM_ACTOR = "system"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TOKEN_PREFIX = "sl"  # noqa: S105 - a label, not a secret

A = TypeVar("A", bound=Aggregate)


class DueItems(Protocol):
    """The port through which ``tick`` finds items whose deadline has passed.

    Implemented by the ``deadlines`` read model, so a tick's cost grows with the due items.
    ``after`` is the last (due_at, id) seen, for paging through a long list once.
    """

    def due(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]: ...


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    state: str
    version: int
    #: highest notification id written (None when nothing was written)
    position: int | None
    created: bool = True
    number: str | None = None


@dataclass
class TickResult:
    now: datetime
    checked: int = 0
    renoticed: int = 0
    conflicts: int = 0
    renoticed_ids: list[UUID] = field(default_factory=list)


class SafeLoop(Application[UUID]):
    """The one application of a site; its events live in one log (``safeloop_events``)."""

    name = "SafeLoop"
    snapshotting_intervals = {Organisation: 50, NumberSequence: 100}  # noqa: RUF012

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        policy: SitePolicy | None = None,
        due_items: DueItems | None = None,
    ) -> None:
        super().__init__(env=env)
        self.policy = policy or SitePolicy()
        self.due_items = due_items
        self._listeners: list[Callable[[int], None]] = []
        self._numbering = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------------

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(max_notification_id)`` after every successful save."""
        self._listeners.append(listener)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        position = _position(recordings)
        if position is not None:
            for listener in self._listeners:
                listener(position)

    def _get(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(what, str(aggregate_id)) from None
        if not isinstance(aggregate, cls):
            raise NotFound(what, str(aggregate_id))
        return aggregate

    def head(self) -> int:
        """The highest notification id in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    # -- organisation ------------------------------------------------------------------------

    def org(self, as_of: datetime | None = None) -> Organisation:
        """The organisation now, or as it was recorded at ``as_of``."""
        if as_of is not None:
            org = _replay(self.events.get(ORGANISATION_ID), as_of)
            if org is None:
                return Organisation.found(SYSTEM_ACTOR, as_of)
            assert isinstance(org, Organisation)
            return org
        try:
            return self._get(Organisation, ORGANISATION_ID, "organisation")
        except NotFound:
            return Organisation.found(SYSTEM_ACTOR, EPOCH)

    def load_org(self, document: Mapping[str, Any], *, actor: str, now: datetime) -> int:
        """Record the differences between the organisation and ``document``."""
        try:
            org = self._get(Organisation, ORGANISATION_ID, "organisation")
        except NotFound:
            org = Organisation.found(actor, now)
        changes = org.load(document, actor=actor, now=now)
        if org.pending_events:
            try:
                self.save(org)
            except IntegrityError:
                raise VersionConflict("", [], org.version) from None
        return changes

    # -- filing ------------------------------------------------------------------------------

    def file_hazard(
        self,
        *,
        kind: str,
        description: str,
        location: str,
        reporter: str,
        reporter_role: str,
        occurred_at: datetime,
        department: str | None = None,
        client_ref: str | None = None,
        actor: str,
        now: datetime,
        attempts: int = 20,
    ) -> CommandResult:
        """File a finding. With a ``client_ref``, a repeat returns the first filing."""
        org = self.org()
        if org.person(reporter) is None:
            raise InvalidCommand(
                "reporter", f"unknown person {reporter!r}", f"未知人员“{reporter}”"
            )
        if department is not None and org.department(department) is None:
            raise InvalidCommand(
                "department", f"unknown department {department!r}", f"未知部门“{department}”"
            )
        hazard_id = hazard_id_for_client_ref(client_ref) if client_ref else uuid4()
        day = f"{self.policy.local_date(now):%Y%m%d}"
        for attempt in range(attempts):
            if client_ref:
                existing = self._existing(hazard_id)
                if existing is not None:
                    return existing
            # Filings in this process take turns on the day's counter; another process may
            # still advance it first, and then we retry after a short, random pause.
            with self._numbering:
                sequence = self._sequence(f"hazard:{day}", now)
                number = f"{NUMBER_PREFIX.get(kind, 'YH')}-{day}-{sequence.next(now):04d}"
                hazard = Hazard.report(
                    hazard_id=hazard_id,
                    number=number,
                    kind=kind,
                    description=description,
                    location=location,
                    reporter=reporter,
                    reporter_role=reporter_role,
                    occurred_at=occurred_at,
                    department=department,
                    client_ref=client_ref,
                    actor=actor,
                    now=now,
                )
                try:
                    recordings = self.save(hazard, sequence)
                except IntegrityError:
                    pass  # the counter moved, or the same client_ref was filed: look again
                else:
                    return CommandResult(
                        hazard.id, hazard.state, hazard.version, _position(recordings), True, number
                    )
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        existing = self._existing(hazard_id)
        if existing is not None:
            return existing
        raise Contention()

    def _existing(self, hazard_id: UUID) -> CommandResult | None:
        try:
            hazard = self._get(Hazard, hazard_id, "hazard")
        except NotFound:
            return None
        return CommandResult(hazard.id, hazard.state, hazard.version, None, False, hazard.number)

    def _sequence(self, name: str, now: datetime) -> NumberSequence:
        try:
            return self._get(NumberSequence, sequence_id(name), "sequence")
        except NotFound:
            return NumberSequence.start(name, now)

    # -- the loop ----------------------------------------------------------------------------

    def screen(
        self,
        hazard_id: UUID,
        *,
        grade: str,
        department: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        self._require_department(department)
        return self._command(
            hazard_id,
            expected_version,
            lambda h: h.screen(grade=grade, department=department, actor=actor, now=now),
        )

    def fix_on_spot(
        self,
        hazard_id: UUID,
        *,
        note: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._command(
            hazard_id, expected_version, lambda h: h.fix_on_spot(note=note, actor=actor, now=now)
        )

    def void(
        self,
        hazard_id: UUID,
        *,
        reason: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._command(
            hazard_id, expected_version, lambda h: h.void(reason=reason, actor=actor, now=now)
        )

    def merge(
        self,
        hazard_id: UUID,
        *,
        into: UUID,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        duplicate = self._get(Hazard, hazard_id, "hazard")
        self._check_version(duplicate, expected_version)
        try:
            target = self._get(Hazard, into, "hazard")
        except NotFound:
            raise InvalidCommand("into", f"unknown item {into}", f"未找到目标条目 {into}") from None
        duplicate.merge_into(target, actor=actor, now=now)
        return self._save(duplicate, target)

    def issue_notice(
        self,
        hazard_id: UUID,
        *,
        responsible_person: str,
        measures: str,
        funds: Decimal,
        deadline: datetime | None,
        contingency: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Issue the rectification notice (five-point order), copying per the policy."""
        org = self.org()
        if org.person(responsible_person) is None:
            raise InvalidCommand(
                "responsible_person",
                f"unknown person {responsible_person!r}",
                f"未知人员“{responsible_person}”",
            )

        def notice(h: Hazard) -> None:
            department = org.department(h.department or "") or {}
            h.issue_notice(
                responsible_person=responsible_person,
                measures=measures,
                funds=funds,
                deadline=deadline or self.policy.default_deadline(h.kind, h.grade, now),
                contingency=contingency,
                unit_head=department.get("unit_head"),
                copies=org.resolve_copies(self.policy.notice_copies, h.department),
                actor=actor,
                now=now,
            )

        return self._command(hazard_id, expected_version, notice)

    def request_extension(
        self,
        hazard_id: UUID,
        *,
        requested_deadline: datetime,
        reason: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._command(
            hazard_id,
            expected_version,
            lambda h: h.request_extension(
                requested_deadline=requested_deadline, reason=reason, actor=actor, now=now
            ),
        )

    def decide_extension(
        self,
        hazard_id: UUID,
        *,
        granted: bool,
        note: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._command(
            hazard_id,
            expected_version,
            lambda h: h.decide_extension(granted=granted, note=note, actor=actor, now=now),
        )

    def submit(
        self,
        hazard_id: UUID,
        *,
        evidence: Sequence[str],
        note: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._command(
            hazard_id,
            expected_version,
            lambda h: h.submit(evidence=evidence, note=note, actor=actor, now=now),
        )

    def recheck(
        self,
        hazard_id: UUID,
        *,
        passed: bool,
        note: str,
        deadline: datetime | None = None,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Record a recheck; a failure reopens the item with ``deadline`` (or the policy's)."""
        return self._command(
            hazard_id,
            expected_version,
            lambda h: h.recheck(
                passed=passed,
                note=note,
                new_deadline=deadline or self.policy.renotice_deadline(now),
                actor=actor,
                now=now,
            ),
        )

    # -- deadlines ---------------------------------------------------------------------------

    def handle_overdue(self, hazard_id: UUID, now: datetime) -> CommandResult | None:
        """Issue the handling opinion and the re-notice for a missed deadline, once.

        Returns None when there was nothing to do. Raises VersionConflict when another
        process changed the item at the same moment (it will have done the work, or the
        next tick will).
        """
        hazard = self._get(Hazard, hazard_id, "hazard")
        if not hazard.is_overdue_at(now):
            return None
        org = self.org()
        level = hazard.escalation_level + 1
        new_deadline = self.policy.renotice_deadline(now)
        done = hazard.handle_overdue(
            now=now,
            issued_on=self.policy.local_date(now),
            new_deadline=new_deadline,
            copies=org.resolve_copies(self.policy.copy_roles_for_level(level), hazard.department),
            opinion=self._opinion(hazard, level, new_deadline, org),
            actor=SYSTEM_ACTOR,
        )
        if not done:
            return None
        return self._save(hazard)

    def _opinion(
        self, hazard: Hazard, level: int, new_deadline: datetime, org: Organisation
    ) -> str:
        zone = self.policy.zone
        assert hazard.deadline is not None
        department = org.department(hazard.department or "") or {}
        return (
            f"{hazard.number}（{hazard.location}）未在 "
            f"{hazard.deadline.astimezone(zone):%Y-%m-%d %H:%M} 前完成整改，"
            f"第 {hazard.overdue_periods + 1} 次逾期。责令{department.get('name_zh') or '责任单位'}"
            f"于 {new_deadline.astimezone(zone):%Y-%m-%d %H:%M} 前完成整改，升级为 {level} 级督办。"
        )

    def tick(self, now: datetime, batch_size: int = 500) -> TickResult:
        """Handle every missed deadline up to ``now`` (found through the DueItems port)."""
        if self.due_items is None:
            raise RuntimeError("tick needs the deadlines read model (due_items)")
        result = TickResult(now=now)
        after: tuple[datetime, UUID] | None = None
        while True:
            rows = self.due_items.due(now, after, batch_size)
            for _, hazard_id in rows:
                result.checked += 1
                try:
                    if self.handle_overdue(hazard_id, now) is not None:
                        result.renoticed += 1
                        result.renoticed_ids.append(hazard_id)
                except VersionConflict:
                    result.conflicts += 1
                except NotFound:
                    continue
            if len(rows) < batch_size:
                return result
            after = rows[-1]

    # -- queries -----------------------------------------------------------------------------

    def hazard(self, hazard_id: UUID, as_of: datetime | None = None) -> Hazard:
        """The item now, or as it was recorded at ``as_of``."""
        if as_of is None:
            return self._get(Hazard, hazard_id, "hazard")
        hazard = _replay(self.events.get(hazard_id), as_of)
        if not isinstance(hazard, Hazard):
            raise NotFound("hazard", str(hazard_id))
        return hazard

    def hazard_events(self, hazard_id: UUID) -> list[Hazard.Event]:
        events = [e for e in self.events.get(hazard_id) if isinstance(e, Hazard.Event)]
        if not events:
            raise NotFound("hazard", str(hazard_id))
        return events

    # -- credentials -------------------------------------------------------------------------

    def create_token(self, person: str, *, label: str, actor: str, now: datetime) -> str:
        """Issue an API token for a person; the returned secret is shown once."""
        if self.org().person(person) is None:
            raise NotFound("person", person)
        credential_id = uuid4()
        secret = secrets.token_urlsafe(32)
        self.save(Credential.issue(credential_id, person, _digest(secret), label, actor, now))
        return f"{TOKEN_PREFIX}_{credential_id.hex}_{secret}"

    def revoke_token(self, token_or_id: str, *, actor: str, reason: str, now: datetime) -> None:
        credential_id = _credential_id(token_or_id)
        if credential_id is None:
            raise NotFound("token", token_or_id[:40])
        credential = self._get(Credential, credential_id, "token")
        credential.revoke(actor, reason, now)
        self.save(credential)

    def authenticate(self, token: str) -> str | None:
        """The person a token belongs to, or None (unknown, wrong secret or revoked)."""
        parts = token.split("_", 2)
        credential_id = _credential_id(token)
        if credential_id is None or len(parts) != 3:
            return None
        try:
            credential = self._get(Credential, credential_id, "token")
        except NotFound:
            return None
        if credential.revoked or not hmac.compare_digest(credential.digest, _digest(parts[2])):
            return None
        return credential.person

    # -- helpers -----------------------------------------------------------------------------

    def _require_department(self, code: str) -> None:
        if self.org().department(code) is None:
            raise InvalidCommand("department", f"unknown department {code!r}", f"未知部门“{code}”")

    def _check_version(self, hazard: Hazard, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != hazard.version:
            raise VersionConflict(hazard.state, hazard.allowed_commands(), hazard.version)

    def _command(
        self, hazard_id: UUID, expected_version: int | None, change: Callable[[Hazard], None]
    ) -> CommandResult:
        hazard = self._get(Hazard, hazard_id, "hazard")
        self._check_version(hazard, expected_version)
        change(hazard)
        return self._save(hazard)

    def _save(self, hazard: Hazard, *others: Aggregate) -> CommandResult:
        try:
            recordings = self.save(hazard, *others)
        except IntegrityError:
            current = self._get(Hazard, hazard.id, "hazard")
            raise VersionConflict(
                current.state, current.allowed_commands(), current.version
            ) from None
        return CommandResult(
            hazard.id, hazard.state, hazard.version, _position(recordings), False, hazard.number
        )


def _position(recordings: Iterable[Recording[UUID]]) -> int | None:
    ids = [r.notification.id for r in recordings if r.notification.id is not None]
    return max(ids) if ids else None


def _replay(events: Iterator[Any] | Iterable[Any], as_of: datetime) -> Aggregate | None:
    aggregate = None
    for event in events:
        if event.timestamp > as_of:
            break
        aggregate = event.mutate(aggregate)
    return aggregate


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _credential_id(token: str) -> UUID | None:
    parts = token.split("_", 2)
    if len(parts) < 2 or parts[0] != TOKEN_PREFIX:
        return None
    try:
        return UUID(hex=parts[1])
    except ValueError:
        return None
