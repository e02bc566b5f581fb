"""``cases``: one row per accountability case (for lists) and the items each is linked to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.case import CASE_STATES, CS, Case
from projections.base import Item, Projection, bigint
from projections.store import Cursor, ViewStore
from projections.timefmt import iso

COLUMNS = (
    "id",
    "seq",
    "kind",
    "state",
    "department",
    "location",
    "description",
    "direct_person",
    "occurred_at",
    "opened_at",
    "source_hazard",
    "closed_at",
    "updated_at",
    "version",
)
#: the step each event reaches (the state is the furthest reached)
STEP: dict[type, str] = {
    Case.CauseAnalysed: CS.CAUSE_ANALYSED,
    Case.ResponsibilityConfirmed: CS.RESPONSIBILITY_ASSIGNED,
    Case.PenaltyDecided: CS.PENALTIES_DECIDED,
    Case.MeasureAssigned: CS.MEASURES_ASSIGNED,
    Case.EducationRecorded: CS.EDUCATED,
    Case.Closed: CS.CLOSED,
}


class Cases(Projection):
    name = "cases"
    tables = ("case_board", "case_links")

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS case_board ("
            f" id TEXT PRIMARY KEY, seq {bigint(dialect)} NOT NULL, kind TEXT NOT NULL,"
            " state TEXT NOT NULL, department TEXT NOT NULL, location TEXT NOT NULL,"
            " description TEXT NOT NULL, direct_person TEXT, occurred_at TEXT NOT NULL,"
            " opened_at TEXT NOT NULL, source_hazard TEXT, closed_at TEXT,"
            " updated_at TEXT NOT NULL, version INTEGER NOT NULL)",
            "CREATE UNIQUE INDEX IF NOT EXISTS case_board_seq ON case_board (seq)",
            "CREATE INDEX IF NOT EXISTS case_board_dept ON case_board (department, seq)",
            "CREATE TABLE IF NOT EXISTS case_links ("
            " case_id TEXT NOT NULL, hazard_id TEXT NOT NULL, link TEXT NOT NULL,"
            " PRIMARY KEY (case_id, hazard_id))",
            "CREATE INDEX IF NOT EXISTS case_links_hazard ON case_links (hazard_id)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        for pos, e in items:
            if not isinstance(e, Case.Event):
                continue
            case_id = str(e.originator_id)
            if isinstance(e, Case.Opened):
                row: dict[str, Any] = {
                    "id": case_id,
                    "seq": pos,
                    "kind": e.kind,
                    "state": CS.OPENED,
                    "department": e.department,
                    "location": e.location,
                    "description": e.description,
                    "direct_person": e.direct_person,
                    "occurred_at": iso(e.occurred_at),
                    "opened_at": iso(e.timestamp),
                    "source_hazard": e.source_hazard,
                    "closed_at": None,
                    "updated_at": iso(e.timestamp),
                    "version": e.originator_version,
                }
                cur.execute(
                    f"INSERT INTO case_board ({','.join(COLUMNS)})"
                    f" VALUES ({','.join('?' * len(COLUMNS))})",
                    tuple(row[c] for c in COLUMNS),
                )
                for hazard_id in e.findings:
                    _link(cur, case_id, hazard_id, "finding")
                continue
            found = cur.execute("SELECT state FROM case_board WHERE id = ?", (case_id,)).fetchone()
            assert found is not None, f"event {type(e).__name__} for an unknown case"
            state = found["state"]
            step = STEP.get(type(e))
            if step is not None and CASE_STATES.index(step) > CASE_STATES.index(state):
                state = step
            cur.execute(
                "UPDATE case_board SET state = ?, updated_at = ?, version = ?,"
                " closed_at = COALESCE(closed_at, ?) WHERE id = ?",
                (
                    state,
                    iso(e.timestamp),
                    e.originator_version,
                    iso(e.occurred_at) if isinstance(e, Case.Closed) else None,
                    case_id,
                ),
            )
            if isinstance(e, Case.MeasureAssigned):
                _link(cur, case_id, e.hazard_id, "measure")


def _link(cur: Cursor, case_id: str, hazard_id: str, link: str) -> None:
    cur.execute(
        "INSERT INTO case_links (case_id, hazard_id, link) VALUES (?, ?, ?)"
        " ON CONFLICT (case_id, hazard_id) DO NOTHING",
        (case_id, hazard_id, link),
    )


# -- queries -----------------------------------------------------------------------------------

LIST_FIELDS = tuple(c for c in COLUMNS if c != "seq")


def list_cases(
    store: ViewStore,
    *,
    department: str | None = None,
    departments: Sequence[str] | None = None,
    state: str | None = None,
    hazard: str | None = None,
    limit: int = 50,
    before_seq: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Cases newest first, by keyset (``before_seq``); returns (cases, next cursor seq).

    ``departments`` limits the answer to those departments (None: all); ``hazard`` to the
    cases linked to that item (as a finding or as a measure).
    """
    where: list[str] = []
    params: list[Any] = []
    if department is not None:
        where.append("department = ?")
        params.append(department)
    if departments is not None:
        where.append("department IN (" + (",".join("?" * len(departments)) or "NULL") + ")")
        params.extend(departments)
    if state is not None:
        where.append("state = ?")
        params.append(state)
    if hazard is not None:
        where.append("id IN (SELECT case_id FROM case_links WHERE hazard_id = ?)")
        params.append(hazard)
    if before_seq is not None:
        where.append("seq < ?")
        params.append(before_seq)
    sql = f"SELECT seq, {','.join(LIST_FIELDS)} FROM case_board"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT ?"
    params.append(limit + 1)
    with store.read() as cur:
        rows = [dict(r) for r in cur.execute(sql, params).fetchall()]
    next_seq = rows[limit - 1]["seq"] if len(rows) > limit else None
    return [{k: r[k] for k in LIST_FIELDS} for r in rows[:limit]], next_seq


def count_by_state(store: ViewStore) -> dict[str, int]:
    """How many cases are in each state (states with none left out), in the states' order."""
    with store.read() as cur:
        rows = cur.execute("SELECT state, COUNT(*) AS n FROM case_board GROUP BY state").fetchall()
    found = {row["state"]: int(row["n"]) for row in rows}
    return {state: found[state] for state in CASE_STATES if state in found}
