"""``safeloop simulate``: read the real history and compare it under another policy."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from uuid import UUID

from domain.hazard import Hazard
from domain.policy import SitePolicy
from domain.simulation import Comparison, Outcome, compare, totals
from safeloop.system import System

BATCH = 5000


def hazard_histories(system: System) -> list[list[Hazard.Event]]:
    """Every item's events, read from the log (nothing is written)."""
    by_item: dict[UUID, list[Hazard.Event]] = defaultdict(list)
    start = 1
    recorder = system.app.recorder
    while True:
        notifications = recorder.select_notifications(start=start, limit=BATCH)
        for n in notifications:
            if n.topic.startswith("domain.hazard:"):
                event = system.app.mapper.to_domain_event(n)
                if isinstance(event, Hazard.Event):
                    by_item[event.originator_id].append(event)
        if len(notifications) < BATCH:
            break
        start = notifications[-1].id + 1
    return [sorted(events, key=lambda e: e.originator_version) for events in by_item.values()]


def run(system: System, other: SitePolicy, start: datetime, end: datetime) -> Comparison:
    return compare(hazard_histories(system), system.policy, other, start, end)


def render(result: Comparison) -> str:
    header = (
        f"{'department':<12}{'items':>6}  {'overdue periods':>22}  {'case flags':>16}"
        f"  {'max level':>14}  {'overdue hours':>26}"
    )
    sub = (
        f"{'':<12}{'':>6}  {'rec':>6}{'cur':>8}{'other':>8}  {'rec':>4}{'cur':>6}{'other':>6}"
        f"  {'cur':>6}{'other':>8}  {'rec':>8}{'cur':>9}{'other':>9}"
    )
    lines = [header, sub]

    def row(name: str, rec: Outcome, cur: Outcome, oth: Outcome) -> str:
        return (
            f"{name:<12}{cur.items:>6}  {rec.periods:>6}{cur.periods:>8}{oth.periods:>8}"
            f"  {rec.flagged_for_case:>4}{cur.flagged_for_case:>6}{oth.flagged_for_case:>6}"
            f"  {cur.max_level:>6}{oth.max_level:>8}"
            f"  {rec.overdue_hours:>8.1f}{cur.overdue_hours:>9.1f}{oth.overdue_hours:>9.1f}"
        )

    for dept in result.departments():
        lines.append(
            row(
                dept,
                result.recorded.get(dept, Outcome()),
                result.current.get(dept, Outcome()),
                result.other.get(dept, Outcome()),
            )
        )
    lines.append(
        row(
            "total",
            totals(result.recorded),
            totals(result.current),
            totals(result.other),
        )
    )
    lines.append(
        "rec: as recorded; cur: replayed under the current policy; other: under the given"
        " policy (see README, policy simulation)"
    )
    return "\n".join(lines)
