"""``deadlines``: the index the scheduler reads — each running deadline and next reminder.

Three kinds of row per item: ``deadline`` (when the running deadline passes), ``reminder``
(when its next reminder falls due, per the policy's offsets) and ``urgent`` (when the next
response timer of an urgent item runs out). A tick asks only for rows due
by ``now`` (an index range scan), so its cost grows with the due items, not with all items.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.hazard import Hazard
from projections.base import Item, Projection
from projections.store import Cursor, ViewStore
from projections.timefmt import iso, parse

#: events after which no response timer runs
TIMER_STOPS = (Hazard.Closed, Hazard.Voided, Hazard.Merged)
#: events after which no deadline runs
STOPS = (
    Hazard.RectificationSubmitted,
    Hazard.Closed,
    Hazard.Voided,
    Hazard.Merged,
    Hazard.FixedOnSpot,
)


class Deadlines(Projection):
    name = "deadlines"
    tables = ("deadlines",)

    def __init__(self, reminder_offsets_hours: Sequence[float] = ()) -> None:
        #: largest first, as the reminders fall due
        self.offsets = sorted({float(h) for h in reminder_offsets_hours}, reverse=True)

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS deadlines ("
            " hazard_id TEXT NOT NULL, kind TEXT NOT NULL, due_at TEXT NOT NULL,"
            " PRIMARY KEY (hazard_id, kind))",
            "CREATE INDEX IF NOT EXISTS deadlines_due ON deadlines (kind, due_at, hazard_id)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        # Only the last word per item and kind counts: fold the batch, then write once each.
        latest: dict[tuple[str, str], str | None] = {}
        for _, e in items:
            key = str(e.originator_id)
            due = _due_after(e)
            if due is not _UNCHANGED:
                latest[(key, "deadline")] = due
                latest[(key, "reminder")] = self._first_reminder(e) if due else None
            elif isinstance(e, Hazard.ReminderIssued):
                latest[(key, "reminder")] = self._next_reminder(e.deadline, e.offset_hours)
            if isinstance(e, Hazard.MarkedUrgent):
                latest[(key, "urgent")] = iso(min(t["due"] for t in e.timers))
            elif isinstance(e, Hazard.TimerMet | Hazard.TimerMissed):
                latest[(key, "urgent")] = iso(e.next_due)
            elif isinstance(e, TIMER_STOPS):
                latest[(key, "urgent")] = None
        upserts = [(k, kind, v) for (k, kind), v in latest.items() if v is not None]
        deletes = [(k, kind) for (k, kind), v in latest.items() if v is None]
        if deletes:
            cur.executemany("DELETE FROM deadlines WHERE hazard_id = ? AND kind = ?", deletes)
        if upserts:
            cur.executemany(
                "INSERT INTO deadlines (hazard_id, kind, due_at) VALUES (?, ?, ?)"
                " ON CONFLICT (hazard_id, kind) DO UPDATE SET due_at = excluded.due_at",
                upserts,
            )

    def _first_reminder(self, e: Any) -> str | None:
        """The first reminder after a deadline is set: due after the moment it was set."""
        for hours in self.offsets:
            at = e.deadline - timedelta(hours=hours)
            if at > e.occurred_at:
                return iso(at)
        return None

    def _next_reminder(self, deadline: datetime, issued_offset: float) -> str | None:
        for hours in self.offsets:
            if hours < issued_offset:
                return iso(deadline - timedelta(hours=hours))
        return None


_UNCHANGED: Any = object()


def _due_after(e: Any) -> str | None:
    if isinstance(e, Hazard.NoticeIssued | Hazard.ExtensionGranted | Hazard.ReNoticed):
        return iso(e.deadline)
    if isinstance(e, Hazard.RecheckFailed):
        return iso(e.deadline) if e.deadline is not None else None
    if isinstance(e, STOPS):
        return None
    return _UNCHANGED  # type: ignore[no-any-return]


class DeadlineIndex:
    """The ``DueItems`` port of the Application, backed by this read model."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def due(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]:
        """Running deadlines that have passed (strictly before ``now``)."""
        return self._query("deadline", "<", now, after, limit)

    def due_reminders(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]:
        """Items whose next reminder falls due at or before ``now``."""
        return self._query("reminder", "<=", now, after, limit)

    def due_timers(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]:
        """Urgent items whose next response timer ran out (strictly before ``now``)."""
        return self._query("urgent", "<", now, after, limit)

    def _query(
        self,
        kind: str,
        op: str,
        now: datetime,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[tuple[datetime, UUID]]:
        sql = f"SELECT due_at, hazard_id FROM deadlines WHERE kind = ? AND due_at {op} ?"
        params: list[Any] = [kind, iso(now)]
        if after is not None:
            sql += " AND (due_at > ? OR (due_at = ? AND hazard_id > ?))"
            params += [iso(after[0]), iso(after[0]), str(after[1])]
        sql += " ORDER BY due_at, hazard_id LIMIT ?"
        params.append(limit)
        with self.store.read() as cur:
            rows = cur.execute(sql, params).fetchall()
        result: list[tuple[datetime, UUID]] = []
        for row in rows:
            due_at = parse(row["due_at"])
            assert due_at is not None
            result.append((due_at, UUID(row["hazard_id"])))
        return result
