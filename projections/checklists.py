"""``checklists``: pre-shift checklist templates (every version), the work faces using each,
and the runs; answers which work faces had no run before their shift started."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from domain.checklists import ChecklistRun, ChecklistTemplate
from domain.policy import SitePolicy
from domain.site_visit import location_key
from projections.base import Item, Projection
from projections.store import Cursor, ViewStore
from projections.timefmt import iso

RUN_COLUMNS = (
    "id",
    "template",
    "template_version",
    "work_face",
    "face_key",
    "department",
    "shift_start",
    "team_leader",
    "lines",
    "findings",
    "not_ok",
    "recorded_at",
)


class Checklists(Projection):
    name = "checklists"
    tables = ("checklist_templates", "checklist_faces", "checklist_runs")

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS checklist_templates ("
            " code TEXT NOT NULL, version INTEGER NOT NULL, template_id TEXT NOT NULL,"
            " name TEXT NOT NULL,"
            " work_face_type TEXT NOT NULL, items TEXT NOT NULL, work_faces TEXT NOT NULL,"
            " recorded_at TEXT NOT NULL, PRIMARY KEY (code, version))",
            "CREATE TABLE IF NOT EXISTS checklist_faces ("
            " face_key TEXT PRIMARY KEY, work_face TEXT NOT NULL, department TEXT NOT NULL,"
            " template TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS checklist_runs ("
            " id TEXT PRIMARY KEY, template TEXT NOT NULL, template_version INTEGER NOT NULL,"
            " work_face TEXT NOT NULL, face_key TEXT NOT NULL, department TEXT NOT NULL,"
            " shift_start TEXT NOT NULL, team_leader TEXT NOT NULL, lines TEXT NOT NULL,"
            " findings TEXT NOT NULL, not_ok INTEGER NOT NULL, recorded_at TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS checklist_runs_face"
            " ON checklist_runs (face_key, shift_start)",
            "CREATE INDEX IF NOT EXISTS checklist_runs_dept"
            " ON checklist_runs (department, shift_start)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        for _, e in items:
            if isinstance(e, ChecklistTemplate.Defined | ChecklistTemplate.Revised):
                self._template(cur, e)
            elif isinstance(e, ChecklistRun.Recorded):
                cur.execute(
                    f"INSERT INTO checklist_runs ({','.join(RUN_COLUMNS)})"
                    f" VALUES ({','.join('?' * len(RUN_COLUMNS))})",
                    (
                        str(e.originator_id),
                        e.template,
                        e.template_version,
                        e.work_face,
                        location_key(e.work_face),
                        e.department,
                        iso(e.shift_start),
                        e.team_leader,
                        json.dumps(e.lines, ensure_ascii=False),
                        json.dumps(e.findings),
                        sum(1 for line in e.lines if not line["ok"]),
                        iso(e.timestamp),
                    ),
                )

    def _template(self, cur: Cursor, e: Any) -> None:
        if isinstance(e, ChecklistTemplate.Defined):
            code, version = e.code, 1
        else:
            row = cur.execute(
                "SELECT code, MAX(version) AS v FROM checklist_templates WHERE template_id = ?"
                " GROUP BY code",
                (str(e.originator_id),),
            ).fetchone()
            assert row is not None, "a revision of an unknown template"
            code, version = row["code"], int(row["v"]) + 1
        d = e.definition
        cur.execute(
            "INSERT INTO checklist_templates (code, version, template_id, name, work_face_type,"
            " items, work_faces, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                version,
                str(e.originator_id),
                d["name"],
                d["work_face_type"],
                json.dumps(d["items"], ensure_ascii=False),
                json.dumps(d["work_faces"], ensure_ascii=False),
                iso(e.timestamp),
            ),
        )
        cur.execute("DELETE FROM checklist_faces WHERE template = ?", (code,))
        for face in d["work_faces"]:
            cur.execute(
                "INSERT INTO checklist_faces (face_key, work_face, department, template)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (face_key) DO UPDATE SET"
                " work_face = excluded.work_face, department = excluded.department,"
                " template = excluded.template",
                (location_key(face["code"]), face["code"], face["department"], code),
            )


# -- queries -----------------------------------------------------------------------------------


def templates(store: ViewStore) -> list[dict[str, Any]]:
    """Every template's current version."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT t.* FROM checklist_templates t JOIN (SELECT code, MAX(version) AS v"
            " FROM checklist_templates GROUP BY code) m ON t.code = m.code AND t.version = m.v"
            " ORDER BY t.code"
        ).fetchall()
    return [_template_row(dict(r)) for r in rows]


def template_versions(store: ViewStore, code: str) -> list[dict[str, Any]]:
    with store.read() as cur:
        rows = cur.execute(
            "SELECT * FROM checklist_templates WHERE code = ? ORDER BY version", (code,)
        ).fetchall()
    return [_template_row(dict(r)) for r in rows]


def _template_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": row["code"],
        "version": row["version"],
        "name": row["name"],
        "work_face_type": row["work_face_type"],
        "items": json.loads(row["items"]),
        "work_faces": json.loads(row["work_faces"]),
        "recorded_at": row["recorded_at"],
    }


def runs(
    store: ViewStore,
    *,
    run_id: str | None = None,
    department: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Runs, latest shift first."""
    where: list[str] = []
    params: list[Any] = []
    if run_id is not None:
        where.append("id = ?")
        params.append(run_id)
    if department is not None:
        where.append("department = ?")
        params.append(department)
    if start is not None:
        where.append("shift_start >= ?")
        params.append(iso(start))
    if end is not None:
        where.append("shift_start <= ?")
        params.append(iso(end))
    sql = f"SELECT {','.join(RUN_COLUMNS)} FROM checklist_runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY shift_start DESC, id LIMIT ?"
    with store.read() as cur:
        rows = [dict(r) for r in cur.execute(sql, [*params, limit]).fetchall()]
    for row in rows:
        row["lines"] = json.loads(row["lines"])
        row["findings"] = json.loads(row["findings"])
        row.pop("face_key")
    return rows


def missing_runs(
    store: ViewStore,
    shift_starts: Sequence[datetime],
    now: datetime,
    department: str | None = None,
) -> list[dict[str, Any]]:
    """Work faces (of the templates' current versions) with no run recorded before a shift
    of ``shift_starts`` that has begun by ``now``; ``late_run`` names a run recorded after
    the shift began (and by ``now``)."""
    begun = [s for s in shift_starts if s <= now]
    if not begun:
        return []
    with store.read() as cur:
        sql = "SELECT face_key, work_face, department, template FROM checklist_faces"
        params: list[Any] = []
        if department is not None:
            sql += " WHERE department = ?"
            params.append(department)
        faces = [dict(r) for r in cur.execute(sql, params).fetchall()]
        found = {
            (r["face_key"], r["shift_start"]): dict(r)
            for r in cur.execute(
                "SELECT id, face_key, shift_start, recorded_at FROM checklist_runs"
                " WHERE shift_start >= ? AND shift_start <= ?",
                (iso(min(begun)), iso(max(begun))),
            ).fetchall()
        }
    missing = []
    for start in begun:
        at = iso(start)
        for face in sorted(faces, key=lambda f: f["work_face"]):
            run = found.get((face["face_key"], at))
            if run is not None and run["recorded_at"] > (iso(now) or ""):
                run = None  # recorded after ``now`` (a look back): not there yet
            if run is not None and run["recorded_at"] <= (at or ""):
                continue
            missing.append(
                {
                    "work_face": face["work_face"],
                    "department": face["department"],
                    "template": face["template"],
                    "shift_start": at,
                    "late_run": run["id"] if run else None,
                }
            )
    return missing


def missing_on_day(
    store: ViewStore, policy: SitePolicy, day: date, now: datetime
) -> list[dict[str, Any]]:
    """The site day's shifts (begun by ``now``) at work faces with no run before them."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=policy.zone)
    shifts = [s for s in policy.shift_starts_around(noon, days=0) if policy.local_date(s) == day]
    return missing_runs(store, shifts, now)
