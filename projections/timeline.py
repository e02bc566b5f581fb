"""``timeline``: every event of every item, with actor, occurred-at and recorded-at."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.hazard import Hazard
from projections.base import Item, Projection, bigint
from projections.describe import describe
from projections.store import Cursor, ViewStore
from projections.timefmt import iso


class Timeline(Projection):
    name = "timeline"
    tables = ("timeline",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS timeline ("
            f" position {bigint(dialect)} PRIMARY KEY,"
            " hazard_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL,"
            " actor TEXT, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL,"
            " data TEXT NOT NULL)",
            "CREATE UNIQUE INDEX IF NOT EXISTS timeline_item ON timeline (hazard_id, version)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        rows = []
        for pos, e in items:
            if not isinstance(e, Hazard.Event):
                continue
            d = describe(e)
            rows.append(
                (
                    pos,
                    str(e.originator_id),
                    e.originator_version,
                    d["type"],
                    d["actor"],
                    d["occurred_at"],
                    d["recorded_at"],
                    json.dumps(d["data"], ensure_ascii=False, sort_keys=True),
                )
            )
        if rows:
            cur.executemany(
                "INSERT INTO timeline (position, hazard_id, version, type, actor, occurred_at,"
                " recorded_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )


def history(
    store: ViewStore, hazard_id: str, as_of: datetime | None = None
) -> list[dict[str, Any]]:
    """The item's events in order (only those recorded by ``as_of``, when given)."""
    sql = (
        "SELECT type, actor, occurred_at, recorded_at, data, version FROM timeline"
        " WHERE hazard_id = ?"
    )
    params: list[Any] = [hazard_id]
    if as_of is not None:
        sql += " AND recorded_at <= ?"
        params.append(iso(as_of))
    sql += " ORDER BY version"
    with store.read() as cur:
        rows = cur.execute(sql, params).fetchall()
    return [
        {
            "type": r["type"],
            "actor": r["actor"],
            "occurred_at": r["occurred_at"],
            "recorded_at": r["recorded_at"],
            "version": r["version"],
            "data": json.loads(r["data"]),
        }
        for r in rows
    ]
