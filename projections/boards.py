"""``boards``: one row per finding, the current state of each — what department boards and the
item lists read. Kept per department, state, grade, due date and overdue level.

``hazard_board_history`` keeps every version of every row with the recorded instants it was
valid for (``valid_from`` inclusive, ``valid_to`` exclusive; NULL while current), so a board
or a list "as of" an instant answers with exactly what the system held then: the version
whose event was the last recorded by that instant, as ``SafeLoop.hazard(id, as_of)`` replays.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.hazard import OPEN_STATES, STATES, Hazard
from projections.base import Item, Projection, bigint
from projections.store import Cursor, ViewStore, select_in
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
    "delay_seconds",
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
    tables = ("hazard_board", "hazard_board_history", "hazard_board_counts")

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
            " version INTEGER NOT NULL, delay_seconds BIGINT NOT NULL)",
            "CREATE UNIQUE INDEX IF NOT EXISTS hazard_board_seq ON hazard_board (seq)",
            "CREATE INDEX IF NOT EXISTS hazard_board_dept_state"
            " ON hazard_board (department, state, seq)",
            "CREATE INDEX IF NOT EXISTS hazard_board_state ON hazard_board (state, seq)",
            "CREATE INDEX IF NOT EXISTS hazard_board_number ON hazard_board (number)",
            "CREATE INDEX IF NOT EXISTS hazard_board_delay ON hazard_board (delay_seconds)",
            "CREATE INDEX IF NOT EXISTS hazard_board_dept_seq ON hazard_board (department, seq)",
            "CREATE INDEX IF NOT EXISTS hazard_board_reporter ON hazard_board (reporter, seq)",
            # the board's counts by state, kept as counters (counting rows grows with history)
            "CREATE TABLE IF NOT EXISTS hazard_board_counts ("
            " department TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,"
            " PRIMARY KEY (department, state))",
            "CREATE TABLE IF NOT EXISTS hazard_board_history ("
            " id TEXT NOT NULL,"
            f" seq {bigint(dialect)} NOT NULL,"
            " number TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, grade TEXT,"
            " department TEXT, location TEXT NOT NULL, description TEXT NOT NULL,"
            " reporter TEXT NOT NULL, responsible_person TEXT,"
            " deadline TEXT, original_deadline TEXT,"
            " overdue_periods INTEGER NOT NULL DEFAULT 0,"
            " escalation_level INTEGER NOT NULL DEFAULT 0,"
            " occurred_at TEXT NOT NULL, filed_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
            " version INTEGER NOT NULL, delay_seconds BIGINT NOT NULL,"
            " valid_from TEXT NOT NULL, valid_to TEXT,"
            " PRIMARY KEY (id, version))",
            "CREATE INDEX IF NOT EXISTS hazard_board_history_dept"
            " ON hazard_board_history (department, valid_from)",
            "CREATE INDEX IF NOT EXISTS hazard_board_history_from"
            " ON hazard_board_history (valid_from, seq)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        events = [(pos, e) for pos, e in items if isinstance(e, Hazard.Event)]
        if not events:
            return
        ids = sorted({str(e.originator_id) for _, e in events})
        rows: dict[str, dict[str, Any]] = {
            row["id"]: {c: row[c] for c in COLUMNS}
            for row in select_in(cur, "SELECT * FROM hazard_board WHERE id IN", ids)
        }
        counted = {key: (row["department"], row["state"]) for key, row in rows.items()}
        versions: list[dict[str, Any]] = []  # one per event, for the temporal table
        open_in_batch: dict[str, dict[str, Any]] = {}
        closes: list[tuple[str | None, str]] = []
        for pos, event in events:
            key = str(event.originator_id)
            before = rows.get(key)
            rows[key] = _reduce(dict(before) if before else None, pos, event)
            recorded = iso(event.timestamp)
            previous = open_in_batch.get(key)
            if previous is not None:
                previous["valid_to"] = recorded
            elif not isinstance(event, Hazard.Reported):
                closes.append((recorded, key))
            version = {**rows[key], "valid_from": recorded, "valid_to": None}
            versions.append(version)
            open_in_batch[key] = version
        placeholders = ",".join("?" * len(COLUMNS))
        updates = ",".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id")
        cur.executemany(
            f"INSERT INTO hazard_board ({','.join(COLUMNS)}) VALUES ({placeholders})"
            f" ON CONFLICT (id) DO UPDATE SET {updates}",
            [tuple(row[c] for c in COLUMNS) for row in rows.values() if row],
        )
        _count(cur, counted, rows)
        if closes:
            cur.executemany(
                "UPDATE hazard_board_history SET valid_to = ? WHERE id = ? AND valid_to IS NULL",
                closes,
            )
        history_columns = (*COLUMNS, "valid_from", "valid_to")
        cur.executemany(
            f"INSERT INTO hazard_board_history ({','.join(history_columns)})"
            f" VALUES ({','.join('?' * len(history_columns))})",
            [tuple(v[c] for c in history_columns) for v in versions],
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
            "delay_seconds": max(0, int((e.timestamp - e.occurred_at).total_seconds())),
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


def _count(
    cur: Cursor, before: dict[str, tuple[str | None, str]], rows: dict[str, dict[str, Any]]
) -> None:
    """Move the changed items between the (department, state) counters."""
    deltas: dict[tuple[str, str], int] = {}
    for key, row in rows.items():
        old, new = before.get(key), (row["department"], row["state"])
        if old == new:
            continue
        for (department, state), sign in ((old, -1), (new, +1)) if old else ((new, +1),):
            if department is not None:
                deltas[(department, state)] = deltas.get((department, state), 0) + sign
    cur.executemany(
        "INSERT INTO hazard_board_counts (department, state, n) VALUES (?, ?, ?)"
        " ON CONFLICT (department, state) DO UPDATE SET n = hazard_board_counts.n + excluded.n",
        [(d, s, n) for (d, s), n in sorted(deltas.items()) if n],
    )
    # no empty counters: the table is then the same however the events were batched
    cur.execute("DELETE FROM hazard_board_counts WHERE n = 0")


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
    "delay_seconds",
)


def _source(as_of: datetime | None) -> tuple[str, list[str], list[Any]]:
    """The table to read and the condition that picks the rows held at ``as_of``."""
    if as_of is None:
        return "hazard_board", [], []
    at = iso(as_of)
    return (
        "hazard_board_history",
        ["valid_from <= ?", "(valid_to IS NULL OR valid_to > ?)"],
        [at, at],
    )


def board(
    store: ViewStore,
    department: str,
    *,
    include_closed: bool = False,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Counts by state and the open items of one department (most urgent first)."""
    table, held, held_params = _source(as_of)
    where = " AND ".join(["department = ?", *held])
    with store.read() as cur:
        counting = (
            "SELECT state, n FROM hazard_board_counts WHERE department = ?"
            if as_of is None
            else f"SELECT state, COUNT(*) AS n FROM {table} WHERE {where} GROUP BY state"
        )
        counts = {
            row["state"]: int(row["n"])
            for row in cur.execute(counting, (department, *held_params)).fetchall()
        }
        states = STATES if include_closed else tuple(s for s in STATES if s in OPEN_STATES)
        marks = ",".join("?" * len(states))
        rows = cur.execute(
            f"SELECT {','.join(ITEM_FIELDS)} FROM {table}"
            f" WHERE {where} AND state IN ({marks})"
            " ORDER BY escalation_level DESC, deadline IS NULL, deadline, seq DESC",
            (department, *held_params, *states),
        ).fetchall()
    return {
        "department": department,
        "counts": {state: counts.get(state, 0) for state in STATES},
        "items": [dict(row) for row in rows],
        "as_of": iso(as_of),
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
    as_of: datetime | None = None,
    late_after_seconds: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Items newest first, by keyset (``before_seq``); returns (items, next cursor seq).

    ``as_of`` answers with the items as recorded at that instant; ``late_after_seconds``
    keeps only findings recorded more than that long after they occurred.
    """
    table, where, params = _source(as_of)
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
    if late_after_seconds is not None:
        where.append("delay_seconds > ?")
        params.append(late_after_seconds)
    if before_seq is not None:
        where.append("seq < ?")
        params.append(before_seq)
    sql = f"SELECT seq, {','.join(ITEM_FIELDS)} FROM {table}"
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
