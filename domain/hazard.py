"""The Hazard aggregate: one finding (hazard, violation or problem) and its whole loop.

REPORTED ─screen─▶ SCREENED ─notice─▶ NOTICED ─submit─▶ SUBMITTED ─recheck pass─▶ CLOSED
   └─ fix on spot ─▶ FIXED_ON_SPOT ─recheck─▶ CLOSED       ▲          └─ recheck fail ─▶ NOTICED
   └─ void / merge ─▶ VOID / MERGED          NOTICED ─deadline passes (tick)─▶ OVERDUE

Every command takes the acting person and ``now``; the recorded time of each event is ``now``
(never earlier than the item's previous event), and ``occurred_at`` is when it happened in
the mine. Illegal commands raise :class:`IllegalTransition` naming the state and the
commands allowed in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import IllegalTransition, InvalidCommand

KINDS = ("hazard", "violation", "problem")
GRADES = ("general", "major")
REPORTER_ROLES = (
    "manager",
    "safety_supervisor",
    "mass_supervisor",
    "youth_monitor",
    "worker",
    "inspector",
)


class S:
    """The states of a Hazard (plain strings, so they store and compare simply)."""

    REPORTED = "REPORTED"
    SCREENED = "SCREENED"
    FIXED_ON_SPOT = "FIXED_ON_SPOT"
    NOTICED = "NOTICED"
    SUBMITTED = "SUBMITTED"
    OVERDUE = "OVERDUE"
    CLOSED = "CLOSED"
    VOID = "VOID"
    MERGED = "MERGED"


STATES = (
    S.REPORTED,
    S.SCREENED,
    S.FIXED_ON_SPOT,
    S.NOTICED,
    S.SUBMITTED,
    S.OVERDUE,
    S.CLOSED,
    S.VOID,
    S.MERGED,
)
OPEN_STATES = frozenset(STATES) - {S.CLOSED, S.VOID, S.MERGED}
#: states in which a deadline runs
RUNNING_STATES = frozenset({S.NOTICED, S.OVERDUE})

#: commands (named as in the HTTP API) that each state allows
COMMANDS_BY_STATE: dict[str, tuple[str, ...]] = {
    S.REPORTED: ("screen", "fix-on-spot", "void", "merge"),
    S.SCREENED: ("notice", "fix-on-spot", "void", "merge"),
    S.FIXED_ON_SPOT: ("recheck",),
    S.NOTICED: ("extension", "submit"),
    S.OVERDUE: ("extension", "submit"),
    S.SUBMITTED: ("recheck",),
    S.CLOSED: (),
    S.VOID: (),
    S.MERGED: (),
}

MAX_DEADLINE_AHEAD = timedelta(days=5 * 366)


class Hazard(Aggregate):
    """A finding and its rectification loop."""

    class Event(Aggregate.Event):
        actor: str
        occurred_at: datetime

    class Reported(Aggregate.Created, Event):
        number: str
        kind: str
        description: str
        location: str
        reporter: str
        reporter_role: str
        department: str | None
        client_ref: str | None

        def apply(self, h: Hazard) -> None:
            h.number = self.number
            h.kind = self.kind
            h.description = self.description
            h.location = self.location
            h.reporter = self.reporter
            h.reporter_role = self.reporter_role
            h.department = self.department
            h.client_ref = self.client_ref
            h.reported_at = self.occurred_at
            h.state = S.REPORTED
            h.grade = None
            h.notice = None
            h.deadline = None
            h.original_deadline = None
            h.agreed_deadline = None
            h.pending_extension = None
            h.overdue_periods = 0
            h.escalation_level = 0
            h.evidence = []
            h.submitted_at = None
            h.state_before_fix = None
            h.merged_into = None
            h.duplicates = []
            h.closed_at = None
            h.flagged_for_case = False
            h.deadline_set_at = None
            h.reminded_offsets = []
            h.urgent = False
            h.timers = []
            h.sources = []

    class Screened(Event):
        grade: str
        department: str

        def apply(self, h: Hazard) -> None:
            h.grade = self.grade
            h.department = self.department
            h.state = S.SCREENED

    class FixedOnSpot(Event):
        note: str

        def apply(self, h: Hazard) -> None:
            h.state_before_fix = h.state
            h.state = S.FIXED_ON_SPOT

    class Voided(Event):
        reason: str

        def apply(self, h: Hazard) -> None:
            h.state = S.VOID

    class Merged(Event):
        into: str
        into_number: str

        def apply(self, h: Hazard) -> None:
            h.merged_into = self.into
            h.state = S.MERGED

    class DuplicateMerged(Event):
        duplicate: str
        duplicate_number: str

        def apply(self, h: Hazard) -> None:
            h.duplicates = [*h.duplicates, self.duplicate]

    class NoticeIssued(Event):
        responsible_person: str
        measures: str
        funds: Decimal
        deadline: datetime
        contingency: str
        unit_head: str | None
        copies: list[str]

        def apply(self, h: Hazard) -> None:
            h.notice = {
                "responsible_person": self.responsible_person,
                "measures": self.measures,
                "funds": self.funds,
                "deadline": self.deadline,
                "contingency": self.contingency,
                "unit_head": self.unit_head,
                "copies": list(self.copies),
                "issued_at": self.occurred_at,
            }
            h.deadline = self.deadline
            h.original_deadline = self.deadline
            h.agreed_deadline = self.deadline
            h.state = S.NOTICED
            _deadline_set(h, self.occurred_at)

    class ExtensionRequested(Event):
        requested_deadline: datetime
        reason: str

        def apply(self, h: Hazard) -> None:
            h.pending_extension = {
                "requested_deadline": self.requested_deadline,
                "reason": self.reason,
                "requested_by": self.actor,
            }

    class ExtensionGranted(Event):
        deadline: datetime
        note: str

        def apply(self, h: Hazard) -> None:
            h.deadline = self.deadline
            h.agreed_deadline = self.deadline
            h.pending_extension = None
            _deadline_set(h, self.occurred_at)

    class ExtensionDenied(Event):
        note: str

        def apply(self, h: Hazard) -> None:
            h.pending_extension = None

    class RectificationSubmitted(Event):
        evidence: list[str]
        note: str

        def apply(self, h: Hazard) -> None:
            h.evidence = [*h.evidence, *self.evidence]
            h.submitted_at = self.occurred_at
            h.pending_extension = None
            h.state = S.SUBMITTED

    class RecheckPassed(Event):
        note: str

        def apply(self, h: Hazard) -> None:
            pass

    class RecheckFailed(Event):
        note: str
        deadline: datetime | None
        reopened_as: str

        def apply(self, h: Hazard) -> None:
            if self.deadline is not None:
                h.deadline = self.deadline
                _deadline_set(h, self.occurred_at)
            h.state = self.reopened_as

    class HandlingOpinionIssued(Event):
        period: int
        missed_deadline: datetime
        issued_on: str
        opinion: str

        def apply(self, h: Hazard) -> None:
            h.overdue_periods = self.period
            h.state = S.OVERDUE

    class ReNoticed(Event):
        period: int
        level: int
        deadline: datetime
        copies: list[str]

        def apply(self, h: Hazard) -> None:
            h.escalation_level = self.level
            h.deadline = self.deadline
            h.pending_extension = None
            h.state = S.OVERDUE
            _deadline_set(h, self.occurred_at)

    class ReminderIssued(Event):
        """A reminder before the running deadline, ``offset_hours`` ahead of it."""

        deadline: datetime
        offset_hours: float
        recipients: list[str]

        def apply(self, h: Hazard) -> None:
            h.reminded_offsets = [*h.reminded_offsets, self.offset_hours]

    class FlaggedForCase(Event):
        """The item reached the escalation level at which the policy opens a case."""

        level: int

        def apply(self, h: Hazard) -> None:
            h.flagged_for_case = True

    class Closed(Event):
        rectified_at: datetime | None
        on_time: bool
        on_time_extended: bool

        def apply(self, h: Hazard) -> None:
            h.closed_at = self.occurred_at
            h.state = S.CLOSED

    class Linked(Event):
        """Where an automatic finding came from (a checklist run's line, a lapsed certificate)."""

        source: dict[str, Any]

        def apply(self, h: Hazard) -> None:
            h.sources = [*h.sources, dict(self.source)]

    class MarkedUrgent(Event):
        """Phoned in to the dispatch room: the policy's response timers start (e.g. 5-30-60).

        ``timers``: ``{name, due, met_by}`` in the order they fall due; ``met_by`` names the
        commands that meet the timer (besides an explicit response naming it).
        """

        timers: list[dict[str, Any]]

        def apply(self, h: Hazard) -> None:
            h.urgent = True
            h.timers = [{**t, "met_at": None, "missed": False} for t in self.timers]

    class TimerMet(Event):
        """A response step done (late or not); ``next_due``: the next timer still running."""

        name: str
        note: str
        next_due: datetime | None

        def apply(self, h: Hazard) -> None:
            h.timers = [
                {**t, "met_at": self.occurred_at} if t["name"] == self.name else t for t in h.timers
            ]

    class TimerMissed(Event):
        """A response timer ran out unmet: escalated once, to ``copies``."""

        name: str
        due: datetime
        copies: list[str]
        next_due: datetime | None

        def apply(self, h: Hazard) -> None:
            h.timers = [{**t, "missed": True} if t["name"] == self.name else t for t in h.timers]

    if TYPE_CHECKING:  # attributes set by the events (no dataclass fields)
        number: str
        kind: str
        description: str
        location: str
        reporter: str
        reporter_role: str
        department: str | None
        client_ref: str | None
        reported_at: datetime
        state: str
        grade: str | None
        notice: dict[str, Any] | None
        deadline: datetime | None
        original_deadline: datetime | None
        agreed_deadline: datetime | None
        pending_extension: dict[str, Any] | None
        overdue_periods: int
        escalation_level: int
        evidence: list[str]
        submitted_at: datetime | None
        state_before_fix: str | None
        merged_into: str | None
        duplicates: list[str]
        closed_at: datetime | None
        flagged_for_case: bool
        #: when the running deadline was set, and the reminders already issued for it
        deadline_set_at: datetime | None
        reminded_offsets: list[float]
        #: phoned in (urgent path) and its response timers ``{name, due, met_by, met_at, missed}``
        urgent: bool
        timers: list[dict[str, Any]]
        #: what an automatic finding came from (``{type, id, ...}``)
        sources: list[dict[str, Any]]

    # -- creation ----------------------------------------------------------------------------

    @classmethod
    def report(
        cls,
        *,
        hazard_id: UUID,
        number: str,
        kind: str,
        description: str,
        location: str,
        reporter: str,
        reporter_role: str,
        occurred_at: datetime,
        department: str | None,
        client_ref: str | None,
        actor: str,
        now: datetime,
    ) -> Hazard:
        _require_choice("kind", kind, KINDS)
        _require_choice("reporter_role", reporter_role, REPORTER_ROLES)
        _require_text("description", description)
        _require_text("location", location)
        if occurred_at > now + timedelta(minutes=5):
            raise InvalidCommand(
                "occurred_at", "occurred_at is in the future", "发现时间不能晚于当前时间"
            )
        return cls._create(
            cls.Reported,
            id=hazard_id,
            number=number,
            kind=kind,
            description=description,
            location=location,
            reporter=reporter,
            reporter_role=reporter_role,
            department=department,
            client_ref=client_ref,
            actor=actor,
            occurred_at=occurred_at,
            timestamp=now,
        )

    # -- queries -----------------------------------------------------------------------------

    def allowed_commands(self, now: datetime | None = None) -> list[str]:
        """Commands allowed now (the extension request only before the deadline)."""
        allowed = list(COMMANDS_BY_STATE[self.state])
        if "extension" in allowed and (
            self.pending_extension is not None
            or (now is not None and self.deadline is not None and now >= self.deadline)
        ):
            allowed.remove("extension")
        if self.pending_extension is not None and self.state in RUNNING_STATES:
            allowed.append("extension/decision")
        return allowed

    def is_overdue_at(self, now: datetime) -> bool:
        """Whether a deadline is running and has passed (a period not yet handled)."""
        return self.state in RUNNING_STATES and self.deadline is not None and now > self.deadline

    # -- commands ----------------------------------------------------------------------------

    def screen(self, *, grade: str, department: str, actor: str, now: datetime) -> None:
        self._expect("screen", now)
        _require_choice("grade", grade, GRADES)
        self._trigger(self.Screened, actor, now, grade=grade, department=department)

    def fix_on_spot(self, *, note: str, actor: str, now: datetime) -> None:
        self._expect("fix-on-spot", now)
        _require_text("note", note)
        self._trigger(self.FixedOnSpot, actor, now, note=note)

    def void(self, *, reason: str, actor: str, now: datetime) -> None:
        self._expect("void", now)
        _require_text("reason", reason)
        self._trigger(self.Voided, actor, now, reason=reason)

    def merge_into(self, target: Hazard, *, actor: str, now: datetime) -> None:
        """Mark this finding a duplicate of ``target`` (both record an event)."""
        self._expect("merge", now)
        if target.id == self.id:
            raise InvalidCommand("into", "cannot merge an item into itself", "不能合并到自身")
        if target.state not in OPEN_STATES:
            raise InvalidCommand(
                "into",
                f"the target item is {target.state}; only an open item can absorb duplicates",
                f"目标条目状态为 {target.state}，只能合并到未关闭的条目",
            )
        self._trigger(self.Merged, actor, now, into=str(target.id), into_number=target.number)
        target._trigger(
            target.DuplicateMerged,
            actor,
            now,
            duplicate=str(self.id),
            duplicate_number=self.number,
        )

    def issue_notice(
        self,
        *,
        responsible_person: str,
        measures: str,
        funds: Decimal,
        deadline: datetime,
        contingency: str,
        unit_head: str | None,
        copies: Sequence[str],
        actor: str,
        now: datetime,
    ) -> None:
        self._expect("notice", now)
        _require_text("measures", measures)
        _require_text("contingency", contingency)
        if funds < 0:
            raise InvalidCommand("funds", "funds cannot be negative", "资金不能为负数")
        _require_future("deadline", deadline, now)
        self._trigger(
            self.NoticeIssued,
            actor,
            now,
            responsible_person=responsible_person,
            measures=measures,
            funds=funds,
            deadline=deadline,
            contingency=contingency,
            unit_head=unit_head,
            copies=list(copies),
        )

    def request_extension(
        self, *, requested_deadline: datetime, reason: str, actor: str, now: datetime
    ) -> None:
        if self.state in RUNNING_STATES and self.pending_extension is None:
            assert self.deadline is not None
            if now >= self.deadline:
                raise IllegalTransition(
                    "extension",
                    self.state,
                    self.allowed_commands(now),
                    en="an extension can only be requested before the deadline",
                    zh="只能在整改期限届满前申请延期",
                )
        self._expect("extension", now)
        _require_text("reason", reason)
        assert self.deadline is not None
        if requested_deadline <= self.deadline:
            raise InvalidCommand(
                "requested_deadline",
                "the requested deadline must be later than the current one",
                "申请的期限必须晚于当前期限",
            )
        _require_future("requested_deadline", requested_deadline, now)
        self._trigger(
            self.ExtensionRequested,
            actor,
            now,
            requested_deadline=requested_deadline,
            reason=reason,
        )

    def decide_extension(self, *, granted: bool, note: str, actor: str, now: datetime) -> None:
        self._expect("extension/decision", now)
        if granted:
            assert self.pending_extension is not None
            self._trigger(
                self.ExtensionGranted,
                actor,
                now,
                deadline=self.pending_extension["requested_deadline"],
                note=note,
            )
        else:
            self._trigger(self.ExtensionDenied, actor, now, note=note)

    def submit(self, *, evidence: Sequence[str], note: str, actor: str, now: datetime) -> None:
        self._expect("submit", now)
        items = [e.strip() for e in evidence if e and e.strip()]
        if not items:
            raise InvalidCommand(
                "evidence", "at least one piece of evidence is required", "至少需要一项整改证据"
            )
        self._trigger(self.RectificationSubmitted, actor, now, evidence=items, note=note)

    def recheck(
        self,
        *,
        passed: bool,
        note: str,
        new_deadline: datetime,
        actor: str,
        now: datetime,
    ) -> None:
        """Record the safety department's recheck; a failure reopens the item."""
        self._expect("recheck", now)
        if passed:
            rectified_at = self.submitted_at if self.state == S.SUBMITTED else None
            self._trigger(self.RecheckPassed, actor, now, note=note)
            judged_at = rectified_at or now
            self._trigger(
                self.Closed,
                actor,
                now,
                rectified_at=rectified_at,
                on_time=self.original_deadline is None or judged_at <= self.original_deadline,
                on_time_extended=self.agreed_deadline is None or judged_at <= self.agreed_deadline,
            )
        else:
            _require_text("note", note)
            if self.state == S.SUBMITTED:
                _require_future("deadline", new_deadline, now)
                self._trigger(
                    self.RecheckFailed,
                    actor,
                    now,
                    note=note,
                    deadline=new_deadline,
                    reopened_as=S.NOTICED,
                )
            else:  # a fix on the spot that did not hold goes back to where it was
                self._trigger(
                    self.RecheckFailed,
                    actor,
                    now,
                    note=note,
                    deadline=None,
                    reopened_as=self.state_before_fix or S.REPORTED,
                )

    def handle_overdue(
        self,
        *,
        now: datetime,
        issued_on: date,
        new_deadline: datetime,
        copies: Sequence[str],
        opinion: str,
        actor: str,
        case_level: int | None = None,
    ) -> bool:
        """Handle one missed deadline: a handling opinion and a re-notice, once per period.

        Returns False (and records nothing) when no deadline has passed unhandled, so that a
        second tick at the same instant, or a second scheduler, adds nothing. Reaching
        ``case_level`` for the first time also flags the item for an accountability case.
        """
        if not self.is_overdue_at(now):
            return False
        assert self.deadline is not None
        period = self.overdue_periods + 1
        self._trigger(
            self.HandlingOpinionIssued,
            actor,
            now,
            period=period,
            missed_deadline=self.deadline,
            issued_on=issued_on.isoformat(),
            opinion=opinion,
        )
        self._trigger(
            self.ReNoticed,
            actor,
            now,
            period=period,
            level=self.escalation_level + 1,
            deadline=new_deadline,
            copies=list(copies),
        )
        if (
            case_level is not None
            and self.escalation_level >= case_level
            and not self.flagged_for_case
        ):
            self._trigger(self.FlaggedForCase, actor, now, level=self.escalation_level)
        return True

    def reminder_due(self, now: datetime, offsets_hours: Sequence[float]) -> float | None:
        """The reminder (its offset in hours) to issue at ``now``, or None.

        A reminder ``o`` hours ahead is due from ``deadline - o`` until the deadline, unless
        that instant was not after the moment the deadline was set (the notice itself said
        it). When a tick comes late and several are due, only the nearest one is issued and
        the earlier ones are skipped for good; each is issued at most once per deadline.
        """
        if self.state not in RUNNING_STATES or self.deadline is None or now >= self.deadline:
            return None
        set_at = self.deadline_set_at
        due = [
            o
            for o in offsets_hours
            if self.deadline - timedelta(hours=o) <= now
            and (set_at is None or self.deadline - timedelta(hours=o) > set_at)
        ]
        if not due:
            return None
        nearest = min(due)
        if self.reminded_offsets and nearest >= min(self.reminded_offsets):
            return None
        return nearest

    def issue_reminder(
        self,
        *,
        now: datetime,
        offsets_hours: Sequence[float],
        recipients: Sequence[str],
        actor: str,
    ) -> bool:
        """Record the reminder due at ``now``, once; False (nothing recorded) otherwise."""
        offset = self.reminder_due(now, offsets_hours)
        if offset is None:
            return False
        assert self.deadline is not None
        self._trigger(
            self.ReminderIssued,
            actor,
            now,
            deadline=self.deadline,
            offset_hours=float(offset),
            recipients=list(recipients),
        )
        return True

    def link(self, *, source: dict[str, Any], actor: str, now: datetime) -> None:
        """Record where an automatic finding came from (``{type, id, ...}``)."""
        self._trigger(self.Linked, actor, now, source=dict(source))

    # -- the urgent path ---------------------------------------------------------------------

    def mark_urgent(
        self, *, timers: Sequence[Mapping[str, Any]], actor: str, now: datetime
    ) -> None:
        """Start the response timers (``{name, minutes, met_by}``), counted from ``now``."""
        if self.urgent:
            return
        started: list[dict[str, Any]] = sorted(
            (
                {
                    "name": str(t["name"]),
                    "due": now + timedelta(minutes=float(t["minutes"])),
                    "met_by": list(t.get("met_by", ())),
                }
                for t in timers
            ),
            key=lambda t: t["due"],
        )
        if started:
            self._trigger(self.MarkedUrgent, actor, now, timers=started)

    def running_timers(self) -> list[dict[str, Any]]:
        """Timers neither met nor escalated, while the item is open."""
        if not self.urgent or self.state not in OPEN_STATES:
            return []
        return [t for t in self.timers if t["met_at"] is None and not t["missed"]]

    def next_timer_due(self, without: str | None = None) -> datetime | None:
        dues = [t["due"] for t in self.running_timers() if t["name"] != without]
        return min(dues) if dues else None

    def respond(self, *, step: str, note: str, actor: str, now: datetime) -> None:
        """Record a response step of an urgent item (and any earlier step not yet met)."""
        names = [t["name"] for t in self.timers]
        if not self.urgent or step not in names:
            raise InvalidCommand(
                "step",
                f"step must be one of this item's timers: {', '.join(names) or '(not urgent)'}",
                f"响应步骤无效，应为本条目的计时项：{'、'.join(names) or '（非紧急条目）'}",
            )
        if self.state not in OPEN_STATES:
            raise IllegalTransition("respond", self.state, self.allowed_commands(now))
        self._meet(names.index(step), note, actor, now)

    def miss_timers(self, *, now: datetime, copies: Sequence[str], actor: str) -> int:
        """Escalate every running timer already past due, once each; the count escalated."""
        late = [t for t in self.running_timers() if t["due"] < now]
        for t in late:
            self._trigger(
                self.TimerMissed,
                actor,
                now,
                name=t["name"],
                due=t["due"],
                copies=list(copies),
                next_due=self.next_timer_due(without=t["name"]),
            )
        return len(late)

    def _meet(self, upto: int, note: str, actor: str, now: datetime) -> None:
        for t in self.timers[: upto + 1]:
            if t["met_at"] is None:
                self.trigger_event(
                    self.TimerMet,
                    actor=actor,
                    occurred_at=now,
                    timestamp=max(now, self.modified_on),
                    name=t["name"],
                    note=note,
                    next_due=self.next_timer_due(without=t["name"]),
                )

    def _meet_by(self, command: str, actor: str, now: datetime) -> None:
        met = [i for i, t in enumerate(self.timers) if command in t["met_by"]]
        if met and self.state in OPEN_STATES | {S.CLOSED}:
            self._meet(max(met), "", actor, now)

    # -- helpers -----------------------------------------------------------------------------

    def _expect(self, command: str, now: datetime) -> None:
        allowed = self.allowed_commands(now)
        if command not in allowed:
            raise IllegalTransition(command, self.state, allowed)

    def _trigger(self, event_class: Any, actor: str, now: datetime, **kwargs: Any) -> None:
        self.trigger_event(
            event_class,
            actor=actor,
            occurred_at=now,
            timestamp=max(now, self.modified_on),
            **kwargs,
        )
        command = TIMER_COMMANDS.get(event_class.__name__)
        if command is not None and self.urgent:
            self._meet_by(command, actor, now)


#: the loop's events that can meet an urgent item's timers, by command name (policy's met_by)
TIMER_COMMANDS = {
    "Screened": "screen",
    "NoticeIssued": "notice",
    "FixedOnSpot": "fix-on-spot",
    "RectificationSubmitted": "submit",
    "Closed": "recheck",
}


def _deadline_set(h: Hazard, at: datetime) -> None:
    h.deadline_set_at = at
    h.reminded_offsets = []


def _require_choice(field: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise InvalidCommand(
            field,
            f"{field} must be one of: {', '.join(choices)}",
            f"{field} 取值无效，应为：{'、'.join(choices)}",
        )


def _require_text(field: str, value: str) -> None:
    if not value or not value.strip():
        raise InvalidCommand(field, f"{field} is required", f"{field} 为必填项")


def _require_future(field: str, deadline: datetime, now: datetime) -> None:
    if deadline <= now:
        raise InvalidCommand(field, "the deadline must be in the future", "期限必须晚于当前时间")
    if deadline > now + MAX_DEADLINE_AHEAD:
        raise InvalidCommand(field, "the deadline is more than 5 years ahead", "期限不能超过 5 年")
