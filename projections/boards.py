"""``boards``: one row per finding, the current state of each — what department boards and the
item lists read. Kept per department, state, grade, due date and overdue level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.hazard import OPEN_STATES, STATES, Hazard
from projections.base import Item, Projection, bigint
from projections.store import Cursor, ViewStore
from projections.timefmt import iso

COLUMNS = (
    "id",
    "seq",
    "number",
    "kind",
    "state",
    "grade",
    "department",
    "location",
    "description",
    "reporter",
    "responsible_person",
    "deadline",
    "original_deadline",
    "overdue_periods",
    "escalation_level",
    "occurred_at",
    "filed_at",
    "updated_at",
    "version",
)

#: the state each event leads to (RecheckFailed names its own)
STATE_AFTER: dict[type, str] = {
    Hazard.Reported: "REPORTED",
    Hazard.Screened: "SCREENED",
    Hazard.FixedOnSpot: "FIXED_ON_SPOT",
    Hazard.Voided: "VOID",
    Hazard.Merged: "MERGED",
    Hazard.NoticeIssued: "NOTICED",
    Hazard.RectificationSubmitted: "SUBMITTED",
    Hazard.HandlingOpinionIssued: "OVERDUE",
    Hazard.ReNoticed: "OVERDUE",
    Hazard.Closed: "CLOSED",
}


class Boards(Projection):
    name = "boards"
    tables = ("hazard_board",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS hazard_board ("
            " id TEXT PRIMARY KEY,"
            f" seq {bigint(dialect)} NOT NULL,"
            " number TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, grade TEXT,"
            " department TEXT, location TEXT NOT NULL, description TEXT NOT NULL,"
            " reporter TEXT NOT NULL, responsible_person TEXT,"
            " deadline TEXT, original_deadline TEXT,"
            " overdue_periods INTEGER NOT NULL DEFAULT 0,"
            " escalation_level INTEGER NOT NULL DEFAULT 0,"
            " occurred_at TEXT NOT NULL, filed_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
            " version INTEGER NOT NULL)",
            "CREATE UNIQUE INDEX IF NOT EXISTS hazard_board_seq ON hazard_board (seq)",
            "CREATE INDEX IF NOT EXISTS hazard_board_dept_state"
            " ON hazard_board (department, state, seq)",
            "CREATE INDEX IF NOT EXISTS hazard_board_state ON hazard_board (state, seq)",
            "CREATE INDEX IF NOT EXISTS hazard_board_number ON hazard_board (number)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        events = [(pos, e) for pos, e in items if isinstance(e, Hazard.Event)]
        if not events:
            return
        ids = sorted({str(e.originator_id) for _, e in events})
        rows: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in cur.execute(
                f"SELECT * FROM hazard_board WHERE id IN ({marks})", chunk
            ).fetchall():
                rows[row["id"]] = {c: row[c] for c in COLUMNS}
        for pos, event in events:
            key = str(event.originator_id)
            rows[key] = _reduce(rows.get(key), pos, event)
        placeholders = ",".join("?" * len(COLUMNS))
        updates = ",".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id")
        cur.executemany(
            f"INSERT INTO hazard_board ({','.join(COLUMNS)}) VALUES ({placeholders})"
            f" ON CONFLICT (id) DO UPDATE SET {updates}",
            [tuple(row[c] for c in COLUMNS) for row in rows.values() if row],
        )


def _reduce(row: dict[str, Any] | None, pos: int, e: Any) -> dict[str, Any]:
    if isinstance(e, Hazard.Reported):
        row = {
            "id": str(e.originator_id),
            "seq": pos,
            "number": e.number,
            "kind": e.kind,
            "grade": None,
            "department": e.department,
            "location": e.location,
            "description": e.description,
            "reporter": e.reporter,
            "responsible_person": None,
            "deadline": None,
            "original_deadline": None,
            "overdue_periods": 0,
            "escalation_level": 0,
            "occurred_at": iso(e.occurred_at),
            "filed_at": iso(e.timestamp),
        }
    assert row is not None, f"event {type(e).__name__} for an unknown item"
    if isinstance(e, Hazard.Screened):
        row.update(grade=e.grade, department=e.department)
    elif isinstance(e, Hazard.NoticeIssued):
        row.update(
            responsible_person=e.responsible_person,
            deadline=iso(e.deadline),
            original_deadline=iso(e.deadline),
        )
    elif isinstance(e, Hazard.ExtensionGranted | Hazard.ReNoticed) or (
        isinstance(e, Hazard.RecheckFailed) and e.deadline is not None
    ):
        row["deadline"] = iso(e.deadline)
    if isinstance(e, Hazard.HandlingOpinionIssued):
        row["overdue_periods"] = e.period
    if isinstance(e, Hazard.ReNoticed):
        row["escalation_level"] = e.level
    state = e.reopened_as if isinstance(e, Hazard.RecheckFailed) else STATE_AFTER.get(type(e))
    if state is not None:
        row["state"] = state
    row["updated_at"] = iso(e.timestamp)
    row["version"] = e.originator_version
    return row


def _chunks(values: Sequence[str], size: int) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


# -- queries -----------------------------------------------------------------------------------

ITEM_FIELDS = (
    "id",
    "number",
    "kind",
    "state",
    "grade",
    "department",
    "location",
    "description",
    "deadline",
    "overdue_periods",
    "escalation_level",
    "occurred_at",
    "filed_at",
    "version",
)


def board(store: ViewStore, department: str, *, include_closed: bool = False) -> dict[str, Any]:
    """Counts by state and the open items of one department (most urgent first)."""
    with store.read() as cur:
        counts = {
            row["state"]: int(row["n"])
            for row in cur.execute(
                "SELECT state, COUNT(*) AS n FROM hazard_board WHERE department = ? GROUP BY state",
                (department,),
            ).fetchall()
        }
        states = STATES if include_closed else tuple(s for s in STATES if s in OPEN_STATES)
        marks = ",".join("?" * len(states))
        rows = cur.execute(
            f"SELECT {','.join(ITEM_FIELDS)} FROM hazard_board"
            f" WHERE department = ? AND state IN ({marks})"
            " ORDER BY escalation_level DESC, deadline IS NULL, deadline, seq DESC",
            (department, *states),
        ).fetchall()
    return {
        "department": department,
        "counts": {state: counts.get(state, 0) for state in STATES},
        "items": [dict(row) for row in rows],
    }


def list_items(
    store: ViewStore,
    *,
    department: str | None = None,
    departments: Sequence[str] | None = None,
    state: str | None = None,
    overdue: bool | None = None,
    reporter: str | None = None,
    limit: int = 50,
    before_seq: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Items newest first, by keyset (``before_seq``); returns (items, next cursor seq)."""
    where: list[str] = []
    params: list[Any] = []
    if department is not None:
        where.append("department = ?")
        params.append(department)
    if departments is not None:
        scope = ["department IN (" + ",".join("?" * len(departments)) + ")"] if departments else []
        if reporter is not None:
            scope.append("reporter = ?")
        where.append("(" + " OR ".join(scope or ["1 = 0"]) + ")")
        params.extend(departments)
        if reporter is not None:
            params.append(reporter)
    elif reporter is not None:
        where.append("reporter = ?")
        params.append(reporter)
    if state is not None:
        where.append("state = ?")
        params.append(state)
    if overdue is True:
        where.append("state = 'OVERDUE'")
    elif overdue is False:
        where.append("state <> 'OVERDUE'")
    if before_seq is not None:
        where.append("seq < ?")
        params.append(before_seq)
    sql = f"SELECT seq, {','.join(ITEM_FIELDS)} FROM hazard_board"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT ?"
    params.append(limit + 1)
    with store.read() as cur:
        rows = [dict(r) for r in cur.execute(sql, params).fetchall()]
    next_seq = rows[limit - 1]["seq"] if len(rows) > limit else None
    return [{k: r[k] for k in ITEM_FIELDS} for r in rows[:limit]], next_seq


def find_by_number(store: ViewStore, number: str) -> str | None:
    with store.read() as cur:
        row = cur.execute("SELECT id FROM hazard_board WHERE number = ?", (number,)).fetchone()
    return row["id"] if row else None
