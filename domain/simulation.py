"""Policy simulation: replay the recorded loop under another deadline and escalation policy.

The model (what is kept, what is recomputed):

- **Kept, as recorded** — the facts people made: filing, screening (grade and department),
  the instant each rectification notice was issued, granted extensions (their agreed
  deadline), submissions of evidence, rechecks (passed or failed, and when), fixes on the
  spot, voids, merges and closings.
- **Recomputed under the policy** — what the policy decides: each notice's deadline (the
  policy's default for the item's kind and grade, from the instant it was issued), the
  deadline after a failed recheck (the re-notice time from the recheck), every missed
  deadline (an overdue period, with its handling opinion and re-notice, taken at the
  deadline itself as if the tick ran at that instant), the re-notice deadlines, the
  escalation levels and the flag for an accountability case (at ``case_level``).

Recorded handling opinions, re-notices and case flags are not inputs; they are counted
separately so the report can show what really happened beside both replays. Periods are
counted when their missed deadline falls in [start, end); overdue hours are the time items
spent past a missed deadline until their next submission (or void, merge, close), clipped
to [start, end). The simulation reads events only: nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.hazard import Hazard
from domain.policy import SitePolicy

STOPS = (
    Hazard.RectificationSubmitted,
    Hazard.Closed,
    Hazard.Voided,
    Hazard.Merged,
    Hazard.FixedOnSpot,
)


@dataclass
class Outcome:
    """One department's numbers under one policy (or as recorded)."""

    items: int = 0
    periods: int = 0
    max_level: int = 0
    flagged_for_case: int = 0
    overdue_hours: float = 0.0

    def add(self, other: Outcome) -> None:
        self.items += other.items
        self.periods += other.periods
        self.max_level = max(self.max_level, other.max_level)
        self.flagged_for_case += other.flagged_for_case
        self.overdue_hours += other.overdue_hours


@dataclass
class Comparison:
    recorded: dict[str, Outcome] = field(default_factory=dict)
    current: dict[str, Outcome] = field(default_factory=dict)
    other: dict[str, Outcome] = field(default_factory=dict)

    def departments(self) -> list[str]:
        return sorted(set(self.recorded) | set(self.current) | set(self.other))

    def as_dict(self) -> dict[str, Any]:
        def plain(o: Outcome) -> dict[str, Any]:
            return {**o.__dict__, "overdue_hours": round(o.overdue_hours, 2)}

        return {
            dept: {
                name: plain(getattr(self, name).get(dept, Outcome()))
                for name in ("recorded", "current", "other")
            }
            for dept in self.departments()
        }


def _overlap(since: datetime, until: datetime, start: datetime, end: datetime) -> float:
    lo, hi = max(since, start), min(until, end)
    return max(0.0, (hi - lo).total_seconds() / 3600)


def replay_item(
    events: Sequence[Hazard.Event], policy: SitePolicy, start: datetime, end: datetime
) -> Outcome:
    """One item's overdue periods, level, case flag and overdue time under ``policy``."""
    out = Outcome(items=1)
    kind = grade = None
    deadline: datetime | None = None
    running = False
    level = 0
    overdue_since: datetime | None = None

    def advance(until: datetime) -> None:
        nonlocal deadline, level, overdue_since
        while running and deadline is not None and until > deadline and deadline < end:
            level += 1
            if start <= deadline:
                out.periods += 1
            if overdue_since is None:
                overdue_since = deadline
            if level >= policy.case_level and not out.flagged_for_case:
                out.flagged_for_case = 1
            out.max_level = max(out.max_level, level)
            deadline = policy.renotice_deadline(deadline)

    def stop(at: datetime) -> None:
        nonlocal running, overdue_since
        if overdue_since is not None:
            out.overdue_hours += _overlap(overdue_since, at, start, end)
        overdue_since = None
        running = False

    for e in events:
        at = e.occurred_at
        if at >= end:
            break
        advance(at)
        if isinstance(e, Hazard.Reported):
            kind = e.kind
        elif isinstance(e, Hazard.Screened):
            grade = e.grade
        elif isinstance(e, Hazard.NoticeIssued):
            running, deadline = True, policy.default_deadline(kind or "hazard", grade, at)
        elif isinstance(e, Hazard.ExtensionGranted):
            deadline = e.deadline
        elif isinstance(e, Hazard.RecheckFailed):
            if e.deadline is not None:  # reopened from a submission: a new deadline runs
                running, deadline = True, policy.renotice_deadline(at)
        elif isinstance(e, STOPS):
            stop(at)
    advance(end)
    stop(end)
    return out


def recorded_item(events: Sequence[Hazard.Event], start: datetime, end: datetime) -> Outcome:
    """What really happened to one item, counted the same way."""
    out = Outcome(items=1)
    overdue_since: datetime | None = None
    for e in events:
        if isinstance(e, Hazard.HandlingOpinionIssued):
            if start <= e.missed_deadline < end:
                out.periods += 1
            if overdue_since is None:
                overdue_since = e.missed_deadline
        elif isinstance(e, Hazard.ReNoticed) and e.occurred_at < end:
            out.max_level = max(out.max_level, e.level)
        elif isinstance(e, Hazard.FlaggedForCase) and e.occurred_at < end:
            out.flagged_for_case = 1
        elif isinstance(e, STOPS) and overdue_since is not None:
            out.overdue_hours += _overlap(overdue_since, e.occurred_at, start, end)
            overdue_since = None
    if overdue_since is not None:
        out.overdue_hours += _overlap(overdue_since, end, start, end)
    return out


def compare(
    items: Iterable[Sequence[Hazard.Event]],
    current: SitePolicy,
    other: SitePolicy,
    start: datetime,
    end: datetime,
) -> Comparison:
    """Per department: as recorded, replayed under the current policy, and under ``other``."""
    result = Comparison()
    for events in items:
        noticed = [e for e in events if isinstance(e, Hazard.NoticeIssued)]
        if not noticed or noticed[0].occurred_at >= end:
            continue  # no deadline ran in the period
        department = _department(events)
        for name, outcome in (
            ("recorded", recorded_item(events, start, end)),
            ("current", replay_item(events, current, start, end)),
            ("other", replay_item(events, other, start, end)),
        ):
            table: dict[str, Outcome] = getattr(result, name)
            table.setdefault(department, Outcome()).add(outcome)
    return result


def _department(events: Sequence[Hazard.Event]) -> str:
    department = "-"
    for e in events:
        value = getattr(e, "department", None)
        if isinstance(e, Hazard.Reported | Hazard.Screened) and value:
            department = value
    return department


def totals(table: Mapping[str, Outcome]) -> Outcome:
    total = Outcome()
    for outcome in table.values():
        total.add(outcome)
    return total
