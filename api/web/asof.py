"""A department's board as it was at an instant, for the auditor's look back.

Until the boards read model answers "as of" itself (issue 7), the board of a past instant is
rebuilt here from the items themselves: each item now in the department and filed by then
is replayed from its events recorded up to that instant (``SafeLoop.hazard(id, as_of)``). The
cost grows with the department's items, so it is capped; the page says when it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from api.services import Services
from domain.hazard import OPEN_STATES, STATES, Hazard
from projections.timefmt import iso

MAX_ITEMS = 1000


def board_as_of(
    services: Services, department: str, at: datetime, *, include_closed: bool = False
) -> dict[str, Any]:
    with services.store.read() as cur:
        rows = cur.execute(
            "SELECT id FROM hazard_board WHERE department = ? AND filed_at <= ?"
            " ORDER BY seq DESC LIMIT ?",
            (department, iso(at), MAX_ITEMS + 1),
        ).fetchall()
    ids = [UUID(r["id"]) for r in rows]
    truncated = len(ids) > MAX_ITEMS
    counts = dict.fromkeys(STATES, 0)
    items: list[dict[str, Any]] = []
    for hazard_id in ids[:MAX_ITEMS]:
        hazard = services.app.hazard(hazard_id, as_of=at)
        if hazard.department != department:
            continue
        counts[hazard.state] += 1
        if include_closed or hazard.state in OPEN_STATES:
            items.append(_row(hazard))
    items.sort(key=lambda i: (-i["escalation_level"], i["deadline"] is None, i["deadline"] or ""))
    return {"department": department, "counts": counts, "items": items, "truncated": truncated}


def _row(h: Hazard) -> dict[str, Any]:
    return {
        "id": str(h.id),
        "number": h.number,
        "kind": h.kind,
        "state": h.state,
        "grade": h.grade,
        "department": h.department,
        "location": h.location,
        "description": h.description,
        "deadline": iso(h.deadline),
        "overdue_periods": h.overdue_periods,
        "escalation_level": h.escalation_level,
        "occurred_at": iso(h.reported_at),
        "filed_at": iso(h.created_on),
        "version": h.version,
    }
