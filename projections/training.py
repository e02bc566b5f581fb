"""``training``: who attended which training session (level, topic, exam result), by month."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from domain.training import TrainingSession
from projections.base import Item, Projection
from projections.store import Cursor, ViewStore, select_in
from projections.timefmt import iso

COLUMNS = (
    "session_id",
    "person",
    "level",
    "topic",
    "department",
    "held_at",
    "month",
    "score",
    "passed",
    "recorded_at",
)


class Training(Projection):
    name = "training"
    tables = ("training_attendance",)

    def __init__(self, timezone: str = "Asia/Shanghai") -> None:
        self.zone = ZoneInfo(timezone)

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS training_attendance ("
            " session_id TEXT NOT NULL, person TEXT NOT NULL, level TEXT NOT NULL,"
            " topic TEXT NOT NULL, department TEXT, held_at TEXT NOT NULL,"
            " month TEXT NOT NULL, score REAL, passed INTEGER, recorded_at TEXT NOT NULL,"
            " PRIMARY KEY (session_id, person))",
            "CREATE INDEX IF NOT EXISTS training_attendance_month"
            " ON training_attendance (month, person)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        rows = []
        for _, e in items:
            if not isinstance(e, TrainingSession.Held):
                continue
            month = f"{e.held_at.astimezone(self.zone):%Y-%m}"
            for a in e.attendees:
                passed = a.get("passed")
                rows.append(
                    (
                        str(e.originator_id),
                        a["person"],
                        e.level,
                        e.topic,
                        e.department,
                        iso(e.held_at),
                        month,
                        a.get("score"),
                        None if passed is None else int(bool(passed)),
                        iso(e.timestamp),
                    )
                )
        if rows:
            cur.executemany(
                f"INSERT INTO training_attendance ({','.join(COLUMNS)})"
                f" VALUES ({','.join('?' * len(COLUMNS))})",
                rows,
            )


def trained_in(store: ViewStore, month: str, people: Sequence[str]) -> list[dict[str, Any]]:
    """Attendance of ``people`` at sessions held in ``month``, oldest first."""
    with store.read() as cur:
        found = [
            dict(r)
            for r in select_in(
                cur,
                "SELECT session_id, person, level, topic, held_at, score, passed"
                " FROM training_attendance WHERE month = ? AND person IN",
                people,
                [month],
            )
        ]
    for row in found:
        row["passed"] = None if row["passed"] is None else bool(row["passed"])
    return sorted(found, key=lambda r: (r["held_at"], r["person"]))
