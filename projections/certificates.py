"""``certificates``: each person's current certificate of each type, with its next reminder.

The scheduler reads it (the :class:`~domain.training.CertificateIndex` port) for the reminders
due and the lapsed certificates not yet found on site; the department view reads it for who is
due (expiring within the policy's first reminder), who has lapsed. Department membership is the
organisation's at the time of asking, so the rows hold only the log's facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.training import Certification
from projections.base import Item, Projection
from projections.store import Cursor, ViewStore, select_in
from projections.timefmt import iso, parse

COLUMNS = (
    "id",
    "person",
    "type",
    "number",
    "issued_at",
    "expires_at",
    "next_reminder_at",
    "lapse_hazard",
    "recorded_at",
)


class Certificates(Projection):
    name = "certificates"
    tables = ("certificates",)

    def __init__(self, reminder_days: Sequence[float] = ()) -> None:
        #: largest first, as the reminders fall due
        self.days = sorted({float(d) for d in reminder_days}, reverse=True)

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS certificates ("
            " id TEXT PRIMARY KEY, person TEXT NOT NULL, type TEXT NOT NULL,"
            " number TEXT NOT NULL, issued_at TEXT NOT NULL, expires_at TEXT NOT NULL,"
            " next_reminder_at TEXT, lapse_hazard TEXT, recorded_at TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS certificates_person ON certificates (person, type)",
            "CREATE INDEX IF NOT EXISTS certificates_reminder"
            " ON certificates (next_reminder_at, id)",
            "CREATE INDEX IF NOT EXISTS certificates_expiry ON certificates (expires_at, id)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        for _, e in items:
            if not isinstance(e, Certification.Event):
                continue
            key = str(e.originator_id)
            if isinstance(e, Certification.Recorded):
                cur.execute(
                    f"INSERT INTO certificates ({','.join(COLUMNS)})"
                    f" VALUES ({','.join('?' * len(COLUMNS))})",
                    (
                        key,
                        e.person,
                        e.certificate_type,
                        e.number,
                        iso(e.issued_at),
                        iso(e.expires_at),
                        self._first(e.expires_at, e.occurred_at),
                        None,
                        iso(e.timestamp),
                    ),
                )
            elif isinstance(e, Certification.Renewed):
                cur.execute(
                    "UPDATE certificates SET number = ?, issued_at = ?, expires_at = ?,"
                    " next_reminder_at = ?, lapse_hazard = NULL, recorded_at = ? WHERE id = ?",
                    (
                        e.number,
                        iso(e.issued_at),
                        iso(e.expires_at),
                        self._first(e.expires_at, e.occurred_at),
                        iso(e.timestamp),
                        key,
                    ),
                )
            elif isinstance(e, Certification.ExpiryReminded):
                cur.execute(
                    "UPDATE certificates SET next_reminder_at = ? WHERE id = ?",
                    (self._next(e.expires_at, e.days_ahead), key),
                )
            elif isinstance(e, Certification.LapsedOnSite):
                cur.execute(
                    "UPDATE certificates SET lapse_hazard = ? WHERE id = ?",
                    (str(e.hazard_id), key),
                )

    def _first(self, expires_at: datetime, recorded: datetime) -> str | None:
        for days in self.days:
            at = expires_at - timedelta(days=days)
            if at > recorded:
                return iso(at)
        return None

    def _next(self, expires_at: datetime, issued_days: float) -> str | None:
        for days in self.days:
            if days < issued_days:
                return iso(expires_at - timedelta(days=days))
        return None


class CertificateIndexStore:
    """The ``CertificateIndex`` port of the Application, backed by this read model."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def reminders_due(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]:
        # a reminder not sent before the expiry is never sent: those rows are left out
        return self._query(
            "next_reminder_at <= ? AND expires_at > ?", "next_reminder_at", now, after, limit
        )

    def lapsed_unfound(
        self, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[tuple[datetime, UUID]]:
        return self._query(
            "expires_at <= ? AND lapse_hazard IS NULL", "expires_at", now, after, limit
        )

    def _query(
        self,
        where: str,
        column: str,
        now: datetime,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[tuple[datetime, UUID]]:
        sql = f"SELECT {column} AS at, id FROM certificates WHERE {where}"
        params: list[Any] = [iso(now)] * where.count("?")
        if after is not None:
            sql += f" AND ({column} > ? OR ({column} = ? AND id > ?))"
            params += [iso(after[0]), iso(after[0]), str(after[1])]
        sql += f" ORDER BY {column}, id LIMIT ?"
        params.append(limit)
        with self.store.read() as cur:
            rows = cur.execute(sql, params).fetchall()
        result = []
        for row in rows:
            at = parse(row["at"])
            assert at is not None
            result.append((at, UUID(row["id"])))
        return result


def of_people(store: ViewStore, people: Sequence[str]) -> list[dict[str, Any]]:
    """The current certificates of ``people``, by person and type."""
    with store.read() as cur:
        rows = [
            dict(r)
            for r in select_in(
                cur, f"SELECT {','.join(COLUMNS)} FROM certificates WHERE person IN", people
            )
        ]
    return sorted(rows, key=lambda r: (r["person"], r["type"]))


def due_and_lapsed(
    rows: Sequence[dict[str, Any]], now: datetime, within: timedelta
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(due: expiring within ``within`` of ``now``, lapsed: expired by ``now``), soonest first."""
    at, until = iso(now) or "", iso(now + within) or ""
    due = [r for r in rows if at < r["expires_at"] <= until]
    lapsed = [r for r in rows if r["expires_at"] <= at]
    return (
        sorted(due, key=lambda r: (r["expires_at"], r["person"])),
        sorted(lapsed, key=lambda r: (r["expires_at"], r["person"])),
    )
