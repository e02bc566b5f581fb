"""The safeloop Application: the Hazard loop's commands, combined with the other modules.

Command modules are mixins of :class:`~domain.app_base.AppBase` (one module per aggregate
family); ``SafeLoop`` lists them as its bases, so every command shares one log.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.accounts import AccountCommands
from domain.app_base import SYSTEM_ACTOR, AppBase, CommandResult, position_of, refuse_nul
from domain.batching import Batcher
from domain.cases import CaseCommands
from domain.checklists import ChecklistCommands
from domain.credentials import CredentialCommands
from domain.digest import DigestCommands
from domain.errors import Contention, InvalidCommand, NotFound, VersionConflict
from domain.findings import FindingCommands
from domain.hazard import Hazard
from domain.ids import hazard_id_for_client_ref, hazard_id_for_idempotency_key
from domain.inbox import InboxCommands
from domain.organisation import Organisation
from domain.policy import SitePolicy
from domain.sequence import NumberSequence
from domain.site_visit import SiteVisitCommands
from domain.training import TrainingCommands

#: overdue items a tick handles in one save
TICK_SAVE_SIZE = 50
#: the most concurrent filings numbered and saved in one transaction
FILING_GROUP = 100
#: the fields of a filing (as given to Hazard.report)
FILING_FIELDS = (
    "kind",
    "description",
    "location",
    "reporter",
    "reporter_role",
    "occurred_at",
    "department",
    "client_ref",
)

__all__ = ["CommandResult", "DueItems", "DueReminders", "SafeLoop", "TickResult"]


class DueItems(Protocol):
    """The port through which ``tick`` finds items whose deadline has passed.

    Implemented by the ``deadlines`` read model, so a tick's cost grows with the due items.
    ``after`` is the last (due_at, id) seen, for paging through a long list once.
    """

    def due(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]: ...


class DueTimers(Protocol):
    """The port through which ``tick`` finds urgent items whose next response timer ran out."""

    def due_timers(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]: ...


class DueReminders(Protocol):
    """The port through which ``tick`` finds items whose next reminder is due (same paging)."""

    def due_reminders(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]: ...


@dataclass
class TickResult:
    now: datetime
    checked: int = 0
    renoticed: int = 0
    conflicts: int = 0
    renoticed_ids: list[UUID] = field(default_factory=list)
    reminded: int = 0
    #: urgent response timers escalated
    timers_escalated: int = 0
    #: certificate expiry reminders, and violations found for lapsed certificates on site
    certificate_reminders: int = 0
    certificate_violations: int = 0


@dataclass(frozen=True)
class Filing:
    """One finding to file (the arguments of :meth:`SafeLoop.file_hazard`)."""

    hazard_id: UUID
    kind: str
    description: str
    location: str
    reporter: str
    reporter_role: str
    occurred_at: datetime
    department: str | None
    client_ref: str | None
    urgent: bool
    #: filed under an Idempotency-Key: a repeat must have the same fields
    keyed: bool
    actor: str
    now: datetime
    attempts: int

    @property
    def natural(self) -> bool:
        """Whether its id comes from a client_ref or key (so it may have been filed before)."""
        return bool(self.client_ref) or self.keyed


class SafeLoop(
    TrainingCommands,
    ChecklistCommands,
    FindingCommands,
    InboxCommands,
    DigestCommands,
    CaseCommands,
    SiteVisitCommands,
    CredentialCommands,
    AccountCommands,
    AppBase,
):
    """The one application of a site; its events live in one log (``safeloop_events``)."""

    name = "SafeLoop"
    #: long-lived items are snapshotted too, so "as of" stays fast (AppBase.replay_as_of)
    snapshotting_intervals = {Organisation: 50, NumberSequence: 100, Hazard: 50}  # noqa: RUF012

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        policy: SitePolicy | None = None,
        due_items: DueItems | None = None,
        recording_clock: Callable[[], datetime] | None = None,
        due_reminders: DueReminders | None = None,
        due_timers: DueTimers | None = None,
    ) -> None:
        super().__init__(env, policy=policy, recording_clock=recording_clock)
        self.due_items = due_items
        #: without it, a tick issues no reminders
        self.due_reminders = due_reminders
        #: without it, a tick escalates no urgent timers
        self.due_timers = due_timers
        self._numbering = threading.Lock()
        self._counters = {}
        #: filings arriving while others are being saved wait, and are saved together
        self._filings: Batcher[Filing, CommandResult] = Batcher(self._file_together, FILING_GROUP)

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
        idempotency_key: str | None = None,
        urgent: bool = False,
        actor: str,
        now: datetime,
        attempts: int = 20,
    ) -> CommandResult:
        """File a finding. With a ``client_ref``, a repeat returns the first filing.

        ``urgent``: phoned in to the dispatch room — the policy's response timers start now.

        With an ``idempotency_key`` (the caller's own), a repeat with the same fields returns
        the first filing, and one with different fields is refused (InvalidCommand): the key
        was already used for something else.

        Filings made at the same moment in this process are numbered and saved together
        (``_file_together``); each still gets its own number and its own outcome.
        """
        if client_ref:
            hazard_id = hazard_id_for_client_ref(client_ref)
        elif idempotency_key:
            hazard_id = hazard_id_for_idempotency_key(actor, idempotency_key)
        else:
            hazard_id = uuid4()
        filing = Filing(
            hazard_id=hazard_id,
            kind=kind,
            description=description,
            location=location,
            reporter=reporter,
            reporter_role=reporter_role,
            occurred_at=occurred_at,
            department=department,
            client_ref=client_ref,
            urgent=urgent,
            keyed=bool(idempotency_key),
            actor=actor,
            now=now,
            attempts=attempts,
        )
        result = self._filings.submit(filing)
        assert result is not None
        return result

    def _file_together(self, filings: list[Filing]) -> list[CommandResult | Exception]:
        """Number and save ``filings`` in one transaction; one outcome per filing, each as
        :meth:`file_hazard` alone would give it.

        A filing the domain refuses gets its InvalidCommand and takes no number. A repeated
        client_ref or key is not looked up first (most filings are new, and a look-up is a
        round trip each): its save conflicts, and nothing of that save was recorded. Then the
        filings already filed (by an earlier request or another process) get the first filing
        (or their refusal), and the others are numbered again from the counter as it now is.
        Two filings of one client_ref or key are never in one save: the later one is answered
        after the earlier one was filed, as a repeat.
        """
        outcomes: list[CommandResult | Exception | None] = [None] * len(filings)
        org = self._current_org()
        for i, filing in enumerate(filings):
            try:
                _check_filer(org, filing.reporter, filing.department)
            except InvalidCommand as refused:
                outcomes[i] = refused
        tries = [0] * len(filings)
        look = [False] * len(filings)  # whether it may have been filed meanwhile
        while True:
            now_ids: set[UUID] = set()
            batch: list[int] = []
            for i, filing in enumerate(filings):
                if outcomes[i] is not None:
                    continue
                if filing.hazard_id in now_ids:
                    look[i] = True  # the same client_ref twice: after the first is saved
                    continue
                if look[i] and filing.natural:
                    try:
                        outcomes[i] = self._existing_filing(filing)
                    except InvalidCommand as refused:
                        outcomes[i] = refused
                    if outcomes[i] is not None:
                        continue
                if tries[i] >= filing.attempts:
                    outcomes[i] = Contention()
                    continue
                now_ids.add(filing.hazard_id)
                batch.append(i)
            if not batch:
                break
            if not self._number_and_save(filings, batch, outcomes):
                for i in batch:
                    tries[i] += 1
                    look[i] = True
                attempt = min(tries[i] for i in batch)
                time.sleep(random.uniform(0, 0.01 * attempt))
        done = [outcome for outcome in outcomes if outcome is not None]
        assert len(done) == len(filings)
        return done

    def _number_and_save(
        self,
        filings: list[Filing],
        batch: list[int],
        outcomes: list[CommandResult | Exception | None],
    ) -> bool:
        """Number the filings of ``batch`` from their days' counters and save them at once;
        False when the save conflicted (nothing recorded, no outcome set)."""
        with self._numbering:
            sequences: dict[str, NumberSequence] = {}
            new: list[tuple[int, Hazard]] = []
            for i in batch:
                filing = filings[i]
                day = f"hazard:{self.policy.local_date(filing.now):%Y%m%d}"
                if day not in sequences:
                    sequences[day] = self._sequence(day, filing.now)
                sequence = sequences[day]
                try:
                    hazard = Hazard.report(
                        hazard_id=filing.hazard_id,
                        # the counter moves only once the domain accepts the filing
                        number=self._format_number(filing.kind, filing.now, sequence.value + 1),
                        actor=filing.actor,
                        now=filing.now,
                        **{key: getattr(filing, key) for key in FILING_FIELDS},
                    )
                    if filing.urgent:
                        hazard.mark_urgent(
                            timers=self.policy.urgent_timers, actor=filing.actor, now=filing.now
                        )
                    refuse_nul(hazard)
                except InvalidCommand as refused:
                    outcomes[i] = refused
                    continue
                sequence.next(filing.now)
                new.append((i, hazard))
            if not new:
                self._counter_saved(*sequences.values())
                return True
            advanced = [s for s in sequences.values() if s.pending_events and s.value > 0]
            try:
                recordings = self.save(*(hazard for _, hazard in new), *advanced)
            except IntegrityError:
                return False  # the counter moved, or a client_ref was filed meanwhile
            self._counter_saved(*sequences.values())
        position = position_of(recordings)
        for i, hazard in new:
            outcomes[i] = CommandResult(
                hazard.id, hazard.state, hazard.version, position, True, hazard.number
            )
        return True

    def file_hazards(
        self, filings: Sequence[Mapping[str, Any]], *, actor: str, now: datetime, attempts: int = 20
    ) -> list[CommandResult | InvalidCommand]:
        """File many findings in one transaction (a bulk import), one result per filing.

        Each filing has the fields of :meth:`file_hazard` and must have a ``client_ref``: one
        filed before (or earlier in ``filings``) gives its first filing (``created`` false);
        one the domain refuses gives its :class:`InvalidCommand` and records nothing. The
        findings take consecutive numbers of the day's counter, advanced in the same save.
        """
        org = self.org()
        for attempt in range(attempts):
            results: list[CommandResult | InvalidCommand | None] = [None] * len(filings)
            new: list[tuple[int, Hazard]] = []
            first: dict[UUID, int] = {}
            with self._numbering:
                sequence = self._day_sequence(now)
                for i, filing in enumerate(filings):
                    try:
                        hazard_id = self._bulk_id(org, filing)
                    except InvalidCommand as refused:
                        results[i] = refused
                        continue
                    if hazard_id in first:
                        continue  # the same client_ref twice: answered after the save
                    first[hazard_id] = i
                    # one cheap look first: most imported findings are new
                    known = self.recorder.select_events(hazard_id, limit=1)
                    existing = self._existing(hazard_id) if known else None
                    if existing is not None:
                        results[i] = existing
                        continue
                    try:
                        hazard = Hazard.report(
                            hazard_id=hazard_id,
                            # the counter moves only once the domain accepts the filing
                            number=self._format_number(filing["kind"], now, sequence.value + 1),
                            actor=actor,
                            now=now,
                            **{key: filing.get(key) for key in FILING_FIELDS},  # type: ignore[arg-type]
                        )
                        if filing.get("urgent"):
                            hazard.mark_urgent(
                                timers=self.policy.urgent_timers, actor=actor, now=now
                            )
                    except InvalidCommand as refused:
                        results[i] = refused
                        continue
                    sequence.next(now)
                    new.append((i, hazard))
                if not new:
                    self._counter_saved(sequence)
                    return self._bulk_results(filings, results, first)
                try:
                    recordings = self.save(*(hazard for _, hazard in new), sequence)
                except IntegrityError:
                    pass  # the counter moved, or a client_ref was filed meanwhile: look again
                else:
                    self._counter_saved(sequence)
                    position = position_of(recordings)
                    for i, hazard in new:
                        results[i] = CommandResult(
                            hazard.id, hazard.state, hazard.version, position, True, hazard.number
                        )
                    return self._bulk_results(filings, results, first)
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise Contention()

    @staticmethod
    def _bulk_id(org: Organisation, filing: Mapping[str, Any]) -> UUID:
        reporter, department = filing.get("reporter"), filing.get("department")
        if not filing.get("client_ref"):
            raise InvalidCommand(
                "client_ref",
                "a client_ref is needed to import a finding",
                "批量导入需要 client_ref",
            )
        _check_filer(org, str(reporter), None if department is None else str(department))
        return hazard_id_for_client_ref(str(filing["client_ref"]))

    @staticmethod
    def _bulk_results(
        filings: Sequence[Mapping[str, Any]],
        results: list[CommandResult | InvalidCommand | None],
        first: dict[UUID, int],
    ) -> list[CommandResult | InvalidCommand]:
        """Fill in the repeats of a client_ref within one batch from its first filing."""
        done: list[CommandResult | InvalidCommand] = []
        for i, result in enumerate(results):
            if result is None:
                earlier = results[first[hazard_id_for_client_ref(str(filings[i]["client_ref"]))]]
                if isinstance(earlier, CommandResult):
                    result = dataclasses.replace(earlier, position=None, created=False)
                else:
                    assert earlier is not None
                    result = earlier
            done.append(result)
        return done

    def _existing_filing(self, filing: Filing) -> CommandResult | None:
        """The finding already filed under ``filing``'s client_ref or key, if any (with a
        key, it must have been filed with the same fields)."""
        fields = None
        if filing.keyed:
            fields = {key: getattr(filing, key) for key in (*FILING_FIELDS, "urgent")}
        return self._existing(filing.hazard_id, fields)

    def _existing(
        self, hazard_id: UUID, filing: Mapping[str, object] | None = None
    ) -> CommandResult | None:
        """The finding already filed under ``hazard_id``; with ``filing``, it must match."""
        try:
            hazard = self._get(Hazard, hazard_id, "hazard")
        except NotFound:
            return None
        if filing is not None:
            first = next(iter(self.events.get(hazard_id, lte=1)))
            filed = {key: getattr(first, key) for key in filing if key != "urgent"}
            if "urgent" in filing:  # marked in the same save, as the item's second event
                filed["urgent"] = any(
                    isinstance(e, Hazard.MarkedUrgent) for e in self.events.get(hazard_id, lte=2)
                )
            if filed != dict(filing):
                raise InvalidCommand(
                    "Idempotency-Key",
                    "this Idempotency-Key was already used for a different filing",
                    "该幂等键（Idempotency-Key）已用于另一条不同的登记",
                )
        return CommandResult(hazard.id, hazard.state, hazard.version, None, False, hazard.number)

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

    def respond(
        self,
        hazard_id: UUID,
        *,
        step: str,
        note: str,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> CommandResult:
        """Record a response step of an urgent item (e.g. acknowledged by the dispatch room)."""
        return self._command(
            hazard_id,
            expected_version,
            lambda h: h.respond(step=step, note=note, actor=actor, now=now),
        )

    # -- deadlines ---------------------------------------------------------------------------

    def escalate_timers(self, hazard_id: UUID, now: datetime) -> CommandResult | None:
        """Escalate the urgent item's response timers that ran out unmet, once each.

        Copied as the escalation ladder's first level (unit head, deputy chief, leader in
        charge); an item not yet assigned to a department goes to the policy's
        ``urgent_unassigned_copies`` (the office and the mine chief by default) instead. None
        when nothing ran out; VersionConflict when another process changed the item at the
        same moment.
        """
        hazard = self._get(Hazard, hazard_id, "hazard")
        if not _timer_ran_out(hazard, now):
            return None
        if not self._escalate(hazard, now, self.org()):
            return None
        return self._save(hazard)

    def _escalate(self, hazard: Hazard, now: datetime, org: Organisation) -> bool:
        """``escalate_timers`` on a loaded item, not yet saved; whether it changed."""
        roles = (
            self.policy.copy_roles_for_level(1)
            if hazard.department
            else self.policy.urgent_unassigned_copies
        )
        copies = org.resolve_copies(roles, hazard.department)
        return bool(hazard.miss_timers(now=now, copies=copies, actor=SYSTEM_ACTOR))

    def handle_overdue(self, hazard_id: UUID, now: datetime) -> CommandResult | None:
        """Issue the handling opinion and the re-notice for a missed deadline, once.

        Returns None when there was nothing to do. Raises VersionConflict when another
        process changed the item at the same moment (it will have done the work, or the
        next tick will).
        """
        aggregates = self._overdue_changes(hazard_id, now)
        if not aggregates:
            return None
        hazard, *others = aggregates
        assert isinstance(hazard, Hazard)
        return self._save(hazard, *others)

    def _overdue_changes(self, hazard_id: UUID, now: datetime) -> list[Aggregate]:
        """The item with its handling opinion and re-notice (and the case it opens, if it
        reached the case level), not yet saved; empty when there is nothing to do."""
        hazard = self._get(Hazard, hazard_id, "hazard")
        if not hazard.is_overdue_at(now):
            return []
        return self._overdue_changes_of(hazard, now, self.org())

    def _overdue_changes_of(
        self, hazard: Hazard, now: datetime, org: Organisation
    ) -> list[Aggregate]:
        """``_overdue_changes`` of a loaded item."""
        if not hazard.is_overdue_at(now):
            return []
        level = hazard.escalation_level + 1
        new_deadline = self.policy.renotice_deadline(now)
        done = hazard.handle_overdue(
            now=now,
            issued_on=self.policy.local_date(now),
            new_deadline=new_deadline,
            copies=org.resolve_copies(self.policy.copy_roles_for_level(level), hazard.department),
            opinion=self._opinion(hazard, level, new_deadline, org),
            actor=SYSTEM_ACTOR,
            case_level=self.policy.case_level,
        )
        if not done:
            return []
        # reaching the case level opens the item's case in the same save (exactly one case)
        return [hazard, *self._cases_for_flagged(hazard, now)]

    def _handle_overdue_together(
        self, hazard_ids: Sequence[UUID], now: datetime, result: TickResult
    ) -> None:
        """``handle_overdue`` for several items, loaded together and saved in one transaction."""

        def done(hazard_id: UUID) -> None:
            result.renoticed += 1
            result.renoticed_ids.append(hazard_id)

        self._together(
            hazard_ids,
            now,
            TickWork(
                due=lambda h: h.is_overdue_at(now),
                changes=lambda h, org: self._overdue_changes_of(h, now, org),
                alone=self.handle_overdue,
                done=done,
            ),
            result,
        )

    def _remind_together(
        self, hazard_ids: Sequence[UUID], now: datetime, result: TickResult
    ) -> None:
        """``remind`` for several items, loaded together and saved in one transaction."""
        offsets = self.policy.reminder_offsets_hours

        def done(_: UUID) -> None:
            result.reminded += 1

        self._together(
            hazard_ids,
            now,
            TickWork(
                due=lambda h: h.reminder_due(now, offsets) is not None,
                changes=lambda h, org: [h] if self._reminder(h, now, org) else [],
                alone=self.remind,
                done=done,
            ),
            result,
        )

    def _escalate_together(
        self, hazard_ids: Sequence[UUID], now: datetime, result: TickResult
    ) -> None:
        """``escalate_timers`` for several items, loaded together and saved in one transaction."""

        def done(_: UUID) -> None:
            result.timers_escalated += 1

        self._together(
            hazard_ids,
            now,
            TickWork(
                due=lambda h: _timer_ran_out(h, now),
                changes=lambda h, org: [h] if self._escalate(h, now, org) else [],
                alone=self.escalate_timers,
                done=done,
            ),
            result,
        )

    def _together(
        self, hazard_ids: Sequence[UUID], now: datetime, work: TickWork, result: TickResult
    ) -> None:
        """One kind of tick work for several items: loaded together (``_get_many``: a query
        or two for all of them, not per item), the organisation read once, and the changes
        saved in one transaction. If that save conflicts (another scheduler got there first
        for one of them), nothing of it was recorded, and each item is handled again on its
        own — the outcome of handling them one by one."""
        hazards = self._get_many(Hazard, hazard_ids)
        due = [h for h in (hazards.get(i) for i in hazard_ids) if h is not None and work.due(h)]
        if not due:
            return
        org = self.org()
        ready: list[tuple[UUID, list[Aggregate]]] = []
        for hazard in due:
            aggregates = work.changes(hazard, org)
            if aggregates:
                ready.append((hazard.id, aggregates))
        if not ready:
            return
        try:
            self.save(*(a for _, aggregates in ready for a in aggregates))
        except IntegrityError:
            for hazard_id, _ in ready:
                try:
                    if work.alone(hazard_id, now) is not None:
                        work.done(hazard_id)
                except VersionConflict:
                    result.conflicts += 1
                except NotFound:
                    continue
            return
        for hazard_id, _ in ready:
            work.done(hazard_id)

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

    def remind(self, hazard_id: UUID, now: datetime) -> CommandResult | None:
        """Issue the reminder due at ``now`` to the responsible person and unit head, once.

        Returns None when none is due (already issued, or not yet). Raises VersionConflict
        when another process changed the item at the same moment.
        """
        hazard = self._get(Hazard, hazard_id, "hazard")
        if hazard.reminder_due(now, self.policy.reminder_offsets_hours) is None:
            return None
        if not self._reminder(hazard, now, self.org()):
            return None
        return self._save(hazard)

    def _reminder(self, hazard: Hazard, now: datetime, org: Organisation) -> bool:
        """``remind`` on a loaded item, not yet saved; whether it issued one."""
        notice = hazard.notice or {}
        department = org.department(hazard.department or "") or {}
        recipients = [
            p
            for p in dict.fromkeys([notice.get("responsible_person"), department.get("unit_head")])
            if p
        ]
        return hazard.issue_reminder(
            now=now,
            offsets_hours=self.policy.reminder_offsets_hours,
            recipients=recipients,
            actor=SYSTEM_ACTOR,
        )

    def tick(self, now: datetime, batch_size: int = 500) -> TickResult:
        """Handle every missed deadline up to ``now``, then the reminders due, then the
        urgent timers that ran out, TICK_SAVE_SIZE items at a time.

        All are found through the read model's ports; each decision is the item's own, so a
        second tick (or a second scheduler) at the same moment adds nothing.
        """
        if self.due_items is None:
            raise RuntimeError("tick needs the deadlines read model (due_items)")
        result = TickResult(now=now)
        for chunk in _chunks(self._due(self.due_items.due, now, batch_size), TICK_SAVE_SIZE):
            result.checked += len(chunk)
            self._handle_overdue_together(chunk, now, result)
        if self.due_reminders is not None:
            reminders = self._due(self.due_reminders.due_reminders, now, batch_size)
            for chunk in _chunks(reminders, TICK_SAVE_SIZE):
                self._remind_together(chunk, now, result)
        if self.due_timers is not None:
            timers = self._due(self.due_timers.due_timers, now, batch_size)
            for chunk in _chunks(timers, TICK_SAVE_SIZE):
                self._escalate_together(chunk, now, result)
        reminded, violations, conflicts = self.check_certificates(now, batch_size)
        result.certificate_reminders += reminded
        result.certificate_violations += violations
        result.conflicts += conflicts
        return result

    @staticmethod
    def _due(
        query: Callable[[datetime, tuple[datetime, UUID] | None, int], list[tuple[datetime, UUID]]],
        now: datetime,
        batch_size: int,
    ) -> Iterator[UUID]:
        after: tuple[datetime, UUID] | None = None
        while True:
            rows = query(now, after, batch_size)
            for _, hazard_id in rows:
                yield hazard_id
            if len(rows) < batch_size:
                return
            after = rows[-1]

    # -- queries -----------------------------------------------------------------------------

    def hazard(self, hazard_id: UUID, as_of: datetime | None = None) -> Hazard:
        """The item now, or as it was recorded at ``as_of``."""
        if as_of is None:
            return self._get(Hazard, hazard_id, "hazard")
        hazard = self.replay_as_of(hazard_id, as_of)
        if not isinstance(hazard, Hazard):
            raise NotFound("hazard", str(hazard_id))
        return hazard

    def hazard_events(self, hazard_id: UUID) -> list[Hazard.Event]:
        events = [e for e in self.events.get(hazard_id) if isinstance(e, Hazard.Event)]
        if not events:
            raise NotFound("hazard", str(hazard_id))
        return events

    # -- helpers -----------------------------------------------------------------------------

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
            hazard.id, hazard.state, hazard.version, position_of(recordings), False, hazard.number
        )


@dataclass(frozen=True)
class TickWork:
    """One kind of tick work on an item (see ``SafeLoop._together``)."""

    #: whether the loaded item has this work due
    due: Callable[[Hazard], bool]
    #: do it on the loaded item with the organisation given: the aggregates to save (none
    #: when there was nothing to do)
    changes: Callable[[Hazard, Organisation], list[Aggregate]]
    #: do it alone (load, change, save), as after a conflicting save of the batch
    alone: Callable[[UUID, datetime], CommandResult | None]
    #: count it as done
    done: Callable[[UUID], None]


def _timer_ran_out(hazard: Hazard, now: datetime) -> bool:
    return any(t["due"] < now for t in hazard.running_timers())


def _chunks(ids: Iterable[UUID], size: int) -> Iterator[list[UUID]]:
    """``ids`` in lists of ``size`` (the last one shorter), read lazily."""
    chunk: list[UUID] = []
    for item in ids:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check_filer(org: Organisation, reporter: str, department: str | None) -> None:
    """A filing names a known reporter and, if any, a known department."""
    if org.person(reporter) is None:
        raise InvalidCommand("reporter", f"unknown person {reporter!r}", f"未知人员“{reporter}”")
    if department is not None and org.department(department) is None:
        raise InvalidCommand(
            "department", f"unknown department {department!r}", f"未知部门“{department}”"
        )
