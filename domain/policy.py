"""The site policy: deadlines, re-notices and the escalation ladder, configured per site.

Plain data with small named rules; loading it from YAML happens at the edge (safeloop/).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Who can be named in a copy list, resolved against the Organisation at the time.
COPY_ROLES = ("unit_head", "deputy_chief", "leader_in_charge", "mine_chief", "info_office")


@dataclass(frozen=True)
class SitePolicy:
    timezone: str = "Asia/Shanghai"
    #: default rectification time in hours, by kind first (violation) then by grade
    deadline_hours: Mapping[str, float] = field(
        default_factory=lambda: {"violation": 8, "general": 72, "major": 720}
    )
    #: how long a re-notice gives after a missed deadline (and after a failed recheck)
    renotice_hours: float = 24
    #: reminders before a deadline, in hours (used by the scheduler)
    reminder_offsets_hours: Sequence[float] = (24, 2)
    #: who is copied on a rectification notice
    notice_copies: Sequence[str] = ("deputy_chief", "leader_in_charge")
    #: who is copied at each escalation level; levels past the last use the last
    escalation_copies: Mapping[int, Sequence[str]] = field(
        default_factory=lambda: {
            1: ("unit_head", "deputy_chief", "leader_in_charge"),
            2: ("unit_head", "deputy_chief", "leader_in_charge", "mine_chief"),
        }
    )
    #: the escalation level at which an item is flagged for an accountability case
    case_level: int = 3
    #: repeat detection window (same location and category)
    repeat_window_days: int = 30
    #: the urgent path (a finding phoned in to the dispatch room): response timers, each
    #: ``{name, minutes, met_by}`` counted from the filing — met by a response naming the step
    #: or by one of the ``met_by`` commands; the fire rule 5-30-60 by default
    urgent_timers: Sequence[Mapping[str, Any]] = field(
        default_factory=lambda: (
            {"name": "acknowledged", "minutes": 5, "met_by": ("screen",)},
            {"name": "responsible", "minutes": 30, "met_by": ("notice",)},
            {"name": "first_measure", "minutes": 60, "met_by": ("fix-on-spot", "submit")},
        )
    )
    #: who is told when an urgent item not yet assigned to a department misses a timer (the
    #: ladder's first level is the department's own people, so there would be nobody)
    urgent_unassigned_copies: Sequence[str] = ("info_office", "mine_chief")
    #: reminders before a certificate expires, in days (to the holder and their unit head)
    certificate_reminder_days: Sequence[float] = (30, 7)
    #: the shifts' start times at the site (HH:MM, local): a work face whose checklist
    #: templates name it needs a pre-shift checklist run before each
    shift_starts: Sequence[str] = ("00:00", "08:00", "16:00")

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown timezone {self.timezone!r}") from e
        for key, hours in self.deadline_hours.items():
            if not hours > 0:
                raise ValueError(f"deadline_hours.{key} must be positive")
        if not self.renotice_hours > 0:
            raise ValueError("renotice_hours must be positive")
        if not all(h > 0 for h in self.reminder_offsets_hours):
            raise ValueError("reminder_offsets_hours must be positive")
        if not self.escalation_copies:
            raise ValueError("escalation_copies needs at least level 1")
        for level, roles in self.escalation_copies.items():
            if int(level) < 1:
                raise ValueError("escalation levels start at 1")
            _check_roles(f"escalation_copies.{level}", roles)
        _check_roles("notice_copies", self.notice_copies)
        if self.case_level < 1:
            raise ValueError("case_level must be at least 1")
        _check_timers(self.urgent_timers)
        _check_roles("urgent_unassigned_copies", self.urgent_unassigned_copies)
        if not self.urgent_unassigned_copies:
            raise ValueError("urgent_unassigned_copies needs at least one role")
        if not all(d > 0 for d in self.certificate_reminder_days):
            raise ValueError("certificate_reminder_days must be positive")
        for text in self.shift_starts:
            _parse_hhmm(text)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SitePolicy:
        """Build a policy from a parsed YAML/JSON mapping; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown policy keys: {', '.join(sorted(unknown))}")
        policy = cls()
        values: dict[str, Any] = dict(data)
        if "deadline_hours" in values:
            values["deadline_hours"] = {**policy.deadline_hours, **values["deadline_hours"]}
        if "escalation_copies" in values:
            values["escalation_copies"] = {
                int(k): tuple(v) for k, v in values["escalation_copies"].items()
            }
        if "urgent_timers" in values:
            values["urgent_timers"] = tuple(
                dict(t) if isinstance(t, Mapping) else t for t in values["urgent_timers"]
            )
        for key in (
            "reminder_offsets_hours",
            "notice_copies",
            "urgent_unassigned_copies",
            "certificate_reminder_days",
            "shift_starts",
        ):
            if key in values:
                values[key] = tuple(values[key])
        return replace(policy, **values)

    # -- rules -------------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_date(self, instant: datetime) -> date:
        """The calendar day at the site for an instant ("the same day")."""
        return instant.astimezone(self.zone).date()

    def default_deadline(self, kind: str, grade: str | None, now: datetime) -> datetime:
        """The deadline a notice gets unless the office sets another."""
        hours = self.deadline_hours.get(kind) if kind == "violation" else None
        if hours is None:
            hours = self.deadline_hours.get(grade or "general", self.deadline_hours["general"])
        return now + timedelta(hours=hours)

    def renotice_deadline(self, now: datetime) -> datetime:
        """The new deadline of a re-notice issued at ``now``."""
        return now + timedelta(hours=self.renotice_hours)

    def copy_roles_for_level(self, level: int) -> tuple[str, ...]:
        """Who is copied at an escalation level (the ladder's last rung repeats)."""
        eligible = [lvl for lvl in self.escalation_copies if lvl <= level]
        rung = max(eligible) if eligible else min(self.escalation_copies)
        return tuple(self.escalation_copies[rung])

    def shift_starts_around(self, now: datetime, days: int = 1) -> list[datetime]:
        """The shift starts (as instants) from ``days`` site days before ``now``'s day to
        the end of that day, oldest first."""
        today = self.local_date(now)
        starts = []
        for back in range(days, -1, -1):
            day = today - timedelta(days=back)
            for text in self.shift_starts:
                hour, minute = _parse_hhmm(text)
                local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)
                starts.append(local)
        return sorted(starts)

    def reminder_offsets(self) -> tuple[timedelta, ...]:
        return tuple(timedelta(hours=h) for h in sorted(self.reminder_offsets_hours, reverse=True))


TIMER_MET_BY = ("screen", "notice", "fix-on-spot", "submit", "recheck")


def _check_timers(timers: Sequence[Any]) -> None:
    names = set()
    for t in timers:
        if not isinstance(t, Mapping) or set(t) - {"name", "minutes", "met_by"}:
            raise ValueError("urgent_timers: each needs name, minutes and (optionally) met_by")
        name = t.get("name")
        if not isinstance(name, str) or not name or name in names:
            raise ValueError("urgent_timers: each needs a distinct name")
        names.add(name)
        minutes = t.get("minutes")
        if not isinstance(minutes, int | float) or isinstance(minutes, bool) or not minutes > 0:
            raise ValueError(f"urgent_timers.{name}: minutes must be positive")
        for command in t.get("met_by", ()):
            if command not in TIMER_MET_BY:
                raise ValueError(
                    f"urgent_timers.{name}: unknown command {command!r}"
                    f" (one of {', '.join(TIMER_MET_BY)})"
                )


def _parse_hhmm(text: str) -> tuple[int, int]:
    try:
        hour, minute = (int(part) for part in str(text).split(":"))
    except ValueError:
        raise ValueError(f"shift_starts: {text!r} is not HH:MM") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"shift_starts: {text!r} is not HH:MM")
    return hour, minute


def _check_roles(name: str, roles: Sequence[str]) -> None:
    for role in roles:
        if role not in COPY_ROLES:
            raise ValueError(f"{name}: unknown role {role!r} (one of {', '.join(COPY_ROLES)})")
