"""``site_visits``: who was where and when, indexed by (place, instant) for the 24-hour rule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.site_visit import SiteVisit, Visit, location_key
from projections.base import Item, Projection, bigint
from projections.store import Cursor, ViewStore
from projections.timefmt import iso, parse

COLUMNS = ("id", "person", "location", "location_key", "at", "source", "recorded_at", "position")


class SiteVisits(Projection):
    name = "site_visits"
    tables = ("site_visits",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS site_visits ("
            " id TEXT PRIMARY KEY, person TEXT NOT NULL, location TEXT NOT NULL,"
            " location_key TEXT NOT NULL, at TEXT NOT NULL, source TEXT NOT NULL,"
            f" recorded_at TEXT NOT NULL, position {bigint(dialect)} NOT NULL)",
            "CREATE INDEX IF NOT EXISTS site_visits_place ON site_visits (location_key, at)",
            "CREATE INDEX IF NOT EXISTS site_visits_person ON site_visits (person, at)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        rows = [
            (
                str(e.originator_id),
                e.person,
                e.location,
                location_key(e.location),
                iso(e.occurred_at),
                e.source,
                iso(e.timestamp),
                pos,
            )
            for pos, e in items
            if isinstance(e, SiteVisit.Recorded)
        ]
        if rows:
            cur.executemany(
                f"INSERT INTO site_visits ({','.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )


class SiteVisitIndex:
    """The ``VisitIndex`` port of the Application, backed by this read model."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def present(self, location: str, start: datetime, end: datetime) -> list[Visit]:
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT id, person, location, at, recorded_at FROM site_visits"
                " WHERE location_key = ? AND at >= ? AND at <= ? ORDER BY at, id",
                (location_key(location), iso(start), iso(end)),
            ).fetchall()
        return _visits(rows)

    def of_person(self, person: str, start: datetime, end: datetime) -> list[Visit]:
        """The person's visits with ``start <= at <= end``, oldest first."""
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT id, person, location, at, recorded_at FROM site_visits"
                " WHERE person = ? AND at >= ? AND at <= ? ORDER BY at, id",
                (person, iso(start), iso(end)),
            ).fetchall()
        return _visits(rows)


def _visits(rows: Sequence[Any]) -> list[Visit]:
    visits = []
    for row in rows:
        at, recorded_at = parse(row["at"]), parse(row["recorded_at"])
        assert at is not None
        assert recorded_at is not None
        visits.append(Visit(UUID(row["id"]), row["person"], row["location"], at, recorded_at))
    return visits


def list_visits(
    store: ViewStore,
    *,
    location: str | None = None,
    person: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Visits, newest first, filtered by place, person and a closed interval of instants."""
    where: list[str] = []
    params: list[Any] = []
    if location is not None:
        where.append("location_key = ?")
        params.append(location_key(location))
    if person is not None:
        where.append("person = ?")
        params.append(person)
    if start is not None:
        where.append("at >= ?")
        params.append(iso(start))
    if end is not None:
        where.append("at <= ?")
        params.append(iso(end))
    sql = "SELECT id, person, location, at, source, recorded_at FROM site_visits"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY at DESC, id LIMIT ?"
    params.append(limit)
    with store.read() as cur:
        return [dict(r) for r in cur.execute(sql, params).fetchall()]


def count(store: ViewStore) -> int:
    with store.read() as cur:
        row = cur.execute("SELECT COUNT(*) AS n FROM site_visits").fetchone()
    return int(row["n"]) if row else 0
