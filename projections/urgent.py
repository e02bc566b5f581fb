"""``urgent``: the response timers of urgent findings (phoned in to the dispatch room), for the
scorecard's response times: per department and month (of the filing), per timer, how many
ran, were met (in time or late), were escalated, and the minutes from the filing to each step.

Each row keeps when its step was recorded as met and as escalated, so the scorecard as of an
instant counts only what was recorded by then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.hazard import Hazard
from projections.base import Item, Projection
from projections.store import Cursor, ViewStore, select_in
from projections.timefmt import iso, parse


class UrgentTimers(Projection):
    name = "urgent"
    tables = ("urgent_timers", "urgent_departments")

    def __init__(self, timezone: str = "Asia/Shanghai") -> None:
        self.zone = ZoneInfo(timezone)

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS urgent_timers ("
            " hazard_id TEXT NOT NULL, timer TEXT NOT NULL, seq INTEGER NOT NULL,"
            " department TEXT, month TEXT NOT NULL, started_at TEXT NOT NULL,"
            " due TEXT NOT NULL, met_at TEXT, met_recorded_at TEXT, escalated_at TEXT,"
            " started_recorded_at TEXT NOT NULL, PRIMARY KEY (hazard_id, timer))",
            "CREATE INDEX IF NOT EXISTS urgent_timers_month ON urgent_timers (month)",
            # every finding's department so far (a finding may be marked urgent later)
            "CREATE TABLE IF NOT EXISTS urgent_departments ("
            " hazard_id TEXT PRIMARY KEY, department TEXT)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        # A batch's changes are gathered, then written once per kind of change: the new timer
        # rows first, then the updates in log order (each sets its own columns).
        departments: dict[str, str | None] = {}  # changed in this batch, the latest
        marked = [str(e.originator_id) for _, e in items if isinstance(e, Hazard.MarkedUrgent)]
        recorded = _departments(cur, marked)
        timers: list[tuple[Any, ...]] = []
        moved: list[tuple[Any, ...]] = []
        met: list[tuple[Any, ...]] = []
        missed: list[tuple[Any, ...]] = []
        for _, e in items:
            key = str(e.originator_id)
            if isinstance(e, Hazard.Reported | Hazard.Screened):
                departments[key] = e.department
            if isinstance(e, Hazard.Screened):
                moved.append((e.department, key))
            elif isinstance(e, Hazard.MarkedUrgent):
                department = departments[key] if key in departments else recorded.get(key)
                month = f"{e.occurred_at.astimezone(self.zone):%Y-%m}"
                started, at = iso(e.occurred_at), iso(e.timestamp)
                timers += [
                    (key, t["name"], n, department, month, started, iso(t["due"]), at)
                    for n, t in enumerate(e.timers)
                ]
            elif isinstance(e, Hazard.TimerMet):
                met.append((iso(e.occurred_at), iso(e.timestamp), key, e.name))
            elif isinstance(e, Hazard.TimerMissed):
                missed.append((iso(e.timestamp), key, e.name))
        if departments:
            cur.executemany(
                "INSERT INTO urgent_departments (hazard_id, department) VALUES (?, ?)"
                " ON CONFLICT (hazard_id) DO UPDATE SET department = excluded.department",
                list(departments.items()),
            )
        if timers:
            cur.executemany(
                "INSERT INTO urgent_timers (hazard_id, timer, seq, department, month,"
                " started_at, due, started_recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                timers,
            )
        if moved and (timers or _have_timers(cur, [key for _, key in moved])):
            cur.executemany("UPDATE urgent_timers SET department = ? WHERE hazard_id = ?", moved)
        if met:
            cur.executemany(
                "UPDATE urgent_timers SET met_at = ?, met_recorded_at = ?"
                " WHERE hazard_id = ? AND timer = ?",
                met,
            )
        if missed:
            cur.executemany(
                "UPDATE urgent_timers SET escalated_at = ? WHERE hazard_id = ? AND timer = ?",
                missed,
            )


def _departments(cur: Cursor, keys: Sequence[str]) -> dict[str, str | None]:
    """The departments recorded before this batch for these findings."""
    return {
        row["hazard_id"]: row["department"]
        for row in select_in(
            cur,
            "SELECT hazard_id, department FROM urgent_departments WHERE hazard_id IN",
            sorted(set(keys)),
        )
    }


def _have_timers(cur: Cursor, keys: Sequence[str]) -> bool:
    """Whether any of these findings had timers before this batch."""
    return bool(
        select_in(
            cur,
            "SELECT DISTINCT hazard_id FROM urgent_timers WHERE hazard_id IN",
            sorted(set(keys)),
        )
    )


def response_times(
    store: ViewStore, month: str, as_of: datetime | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{department: {timer: {urgent, met, met_in_time, escalated, avg_minutes,
    max_minutes}}}`` for the urgent findings filed in ``month`` (as recorded by ``as_of``)."""
    at = iso(as_of)
    sql = "SELECT * FROM urgent_timers WHERE month = ?"
    params: list[Any] = [month]
    if at is not None:
        sql += " AND started_recorded_at <= ?"
        params.append(at)
    with store.read() as cur:
        rows = [dict(r) for r in cur.execute(sql + " ORDER BY seq", params).fetchall()]
    result: dict[str, dict[str, dict[str, Any]]] = {}
    minutes: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        department = row["department"] or "-"
        entry = result.setdefault(department, {}).setdefault(
            row["timer"],
            {
                "urgent": 0,
                "met": 0,
                "met_in_time": 0,
                "escalated": 0,
                "avg_minutes": None,
                "max_minutes": None,
            },
        )
        entry["urgent"] += 1
        met = row["met_at"] if at is None or (row["met_recorded_at"] or "~") <= at else None
        if row["escalated_at"] and (at is None or row["escalated_at"] <= at):
            entry["escalated"] += 1
        if met is None:
            continue
        entry["met"] += 1
        if met <= row["due"]:
            entry["met_in_time"] += 1
        started, done = parse(row["started_at"]), parse(met)
        assert started is not None
        assert done is not None
        minutes.setdefault((department, row["timer"]), []).append(
            (done - started).total_seconds() / 60
        )
    for (department, timer), values in minutes.items():
        entry = result[department][timer]
        entry["avg_minutes"] = round(sum(values) / len(values), 1)
        entry["max_minutes"] = round(max(values), 1)
    return result
