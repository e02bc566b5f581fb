"""``digest``: the facts the daily digest is made of, by recorded time.

Per item: when it was filed and closed, its department, grade and kind; per overdue spell
(from the first handling opinion until the item leaves OVERDUE): when it began and which
deadline was missed; per re-notice: the level reached and when. ``daily`` turns them into
the summary of one site day (midnight to midnight in the policy's timezone).

"Repeat locations" use the same rule as the scorecards' repeats (projections/scorecards.py):
the same place (ignoring case and spaces) and the same **category** — the data has no
category field, so a category is the finding's kind and its description, ignoring case,
spaces and punctuation. Voided and merged findings do not count anywhere.

``as_of`` answers with what the system held at an instant, by recorded time: only facts
recorded by then count (a finding filed later, a closing, a void or a re-notice recorded
later do not), and each finding has the department and grade it had then — the read model
keeps when it was screened (``screened_at``, with the department it was filed under) and
when it was voided or merged (``gone_at``), the only changes of those facts (screening is
done once; voided and merged are final).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.hazard import Hazard, S
from domain.site_visit import location_key
from projections.base import Item, Projection
from projections.scorecards import category_key
from projections.store import Cursor, ViewStore, select_in
from projections.timefmt import iso, parse

#: events that end an overdue spell
SPELL_ENDS = (Hazard.RectificationSubmitted, Hazard.Closed, Hazard.Voided, Hazard.Merged)
STATE_AFTER: dict[type, str] = {
    Hazard.Screened: S.SCREENED,
    Hazard.FixedOnSpot: S.FIXED_ON_SPOT,
    Hazard.Voided: S.VOID,
    Hazard.Merged: S.MERGED,
    Hazard.NoticeIssued: S.NOTICED,
    Hazard.RectificationSubmitted: S.SUBMITTED,
    Hazard.HandlingOpinionIssued: S.OVERDUE,
    Hazard.ReNoticed: S.OVERDUE,
    Hazard.Closed: S.CLOSED,
}
#: after every recorded instant (the held instant when no ``as_of`` is asked for)
FOREVER = "9999-12-31T23:59:59.999999Z"
#: a finding's department and grade as held at an instant (one ``?``: the instant)
DEPARTMENT_HELD = "CASE WHEN screened_at <= ? THEN department ELSE filed_department END"
GRADE_HELD = "CASE WHEN screened_at <= ? THEN grade END"
#: filed by the instant and not voided or merged by then (two ``?``: the instant)
FINDING_HELD = "filed_at <= ? AND (gone_at IS NULL OR gone_at > ?)"
UNSCREENED = "unscreened"
LONGEST = 10
MAX_REPEATS = 20


class DigestFacts(Projection):
    name = "digest"
    tables = ("digest_items", "digest_overdue", "digest_levels")

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS digest_items ("
            " hazard_id TEXT PRIMARY KEY, number TEXT NOT NULL, kind TEXT NOT NULL,"
            " location TEXT NOT NULL, place TEXT NOT NULL, category TEXT NOT NULL,"
            " description TEXT NOT NULL, department TEXT, grade TEXT, state TEXT NOT NULL,"
            " filed_at TEXT NOT NULL, closed_at TEXT, filed_department TEXT, screened_at TEXT,"
            " gone_at TEXT)",
            "CREATE INDEX IF NOT EXISTS digest_items_filed ON digest_items (filed_at)",
            "CREATE INDEX IF NOT EXISTS digest_items_closed ON digest_items (closed_at)",
            "CREATE TABLE IF NOT EXISTS digest_overdue ("
            " hazard_id TEXT NOT NULL, began_at TEXT NOT NULL, ended_at TEXT,"
            " missed_deadline TEXT NOT NULL, PRIMARY KEY (hazard_id, began_at))",
            "CREATE INDEX IF NOT EXISTS digest_overdue_began ON digest_overdue (began_at)",
            "CREATE TABLE IF NOT EXISTS digest_levels ("
            " hazard_id TEXT NOT NULL, level INTEGER NOT NULL, at TEXT NOT NULL,"
            " PRIMARY KEY (hazard_id, level))",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        events = [e for _, e in items if isinstance(e, Hazard.Event)]
        if events:
            _Batch(cur, events).write()


ITEM_COLUMNS = (
    "hazard_id",
    "number",
    "kind",
    "location",
    "place",
    "category",
    "description",
    "department",
    "grade",
    "state",
    "filed_at",
    "closed_at",
    "filed_department",
    "screened_at",
    "gone_at",
)
#: an item's open overdue spell as held in the table before the batch
HELD = "held"


class _Batch:
    """One batch's writes, folded: what each event changes is gathered in order (later
    changes overwriting earlier ones) and written with one statement per kind of change,
    giving the same rows as applying the events one by one."""

    def __init__(self, cur: Cursor, events: Sequence[Any]) -> None:
        self.cur = cur
        self.new_items: dict[str, dict[str, Any]] = {}
        self.changes: dict[str, dict[str, Any]] = {}
        #: per item: its open spell — ``HELD`` (in the table), a new one's key, or None
        self.open: dict[str, Any] = dict.fromkeys(_open_spells(cur, events), HELD)
        self.ended_held: list[tuple[str | None, str]] = []
        self.spells: dict[tuple[str, str | None], list[Any]] = {}
        self.levels: list[tuple[str, int, str | None]] = []
        for e in events:
            self.event(e)

    def event(self, e: Any) -> None:
        hid = str(e.originator_id)
        at = iso(e.timestamp)
        if isinstance(e, Hazard.Reported):
            self.new_items[hid] = {
                "hazard_id": hid,
                "number": e.number,
                "kind": e.kind,
                "location": e.location,
                "place": location_key(e.location),
                "category": category_key(e.kind, e.description),
                "description": e.description,
                "department": e.department,
                "grade": None,
                "state": S.REPORTED,
                "filed_at": at,
                "closed_at": None,
                "filed_department": e.department,
                "screened_at": None,
                "gone_at": None,
            }
            return
        row = self.new_items.get(hid)
        if row is None:
            row = self.changes.setdefault(hid, {})
        state = e.reopened_as if isinstance(e, Hazard.RecheckFailed) else STATE_AFTER.get(type(e))
        if isinstance(e, Hazard.Screened):
            row.update(department=e.department, grade=e.grade, screened_at=at)
        if isinstance(e, Hazard.Voided | Hazard.Merged):
            row["gone_at"] = at
        if isinstance(e, Hazard.Closed):
            row["closed_at"] = at
        if state is not None:
            row["state"] = state
        if isinstance(e, Hazard.HandlingOpinionIssued):
            if self.open.get(hid) is None:
                key = (hid, at)
                self.spells[key] = [hid, at, None, iso(e.missed_deadline)]
                self.open[hid] = key
        elif isinstance(e, Hazard.ReNoticed):
            self.levels.append((hid, e.level, at))
        elif isinstance(e, SPELL_ENDS):
            spell = self.open.get(hid)
            if spell == HELD:
                self.ended_held.append((at, hid))
            elif spell is not None:
                self.spells[spell][2] = at
            self.open[hid] = None

    def write(self) -> None:
        cur = self.cur
        if self.new_items:
            cur.executemany(
                f"INSERT INTO digest_items ({', '.join(ITEM_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(ITEM_COLUMNS))})",
                [tuple(row[c] for c in ITEM_COLUMNS) for row in self.new_items.values()],
            )
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for hid, change in self.changes.items():
            if change:
                columns = tuple(sorted(change))
                by_columns.setdefault(columns, []).append((*(change[c] for c in columns), hid))
        for columns, rows in by_columns.items():
            sets = ", ".join(f"{c} = ?" for c in columns)
            cur.executemany(f"UPDATE digest_items SET {sets} WHERE hazard_id = ?", rows)
        # spells held before the batch end first (an UPDATE of every open spell of the item
        # must not reach the spells this batch begins)
        if self.ended_held:
            cur.executemany(
                "UPDATE digest_overdue SET ended_at = ? WHERE hazard_id = ? AND ended_at IS NULL",
                self.ended_held,
            )
        if self.spells:
            cur.executemany(
                "INSERT INTO digest_overdue (hazard_id, began_at, ended_at, missed_deadline)"
                " VALUES (?, ?, ?, ?)",
                [tuple(spell) for spell in self.spells.values()],
            )
        if self.levels:
            cur.executemany(
                "INSERT INTO digest_levels (hazard_id, level, at) VALUES (?, ?, ?)", self.levels
            )


def _open_spells(cur: Cursor, events: Sequence[Any]) -> set[str]:
    """The batch's items with an open overdue spell in the table (read once)."""
    ids = sorted(
        {
            str(e.originator_id)
            for e in events
            if isinstance(e, (Hazard.HandlingOpinionIssued, *SPELL_ENDS))
        }
    )
    return {
        row["hazard_id"]
        for row in select_in(
            cur, "SELECT hazard_id FROM digest_overdue WHERE ended_at IS NULL AND hazard_id IN", ids
        )
    }


# -- the daily summary -------------------------------------------------------------------------


def site_day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a site day, from local midnight to the next local midnight."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def daily(
    store: ViewStore,
    day: date,
    *,
    zone: ZoneInfo,
    repeat_window_days: int = 30,
    now: datetime | None = None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The digest of one site day. The overdue figures are as of the day's end (or ``now``);
    ``as_of`` answers with what had been recorded by that instant (see the module)."""
    start, end = site_day_window(day, zone)
    cutoff = min(t for t in (end, now, as_of) if t is not None)
    repeat_start, _ = site_day_window(day - timedelta(days=repeat_window_days - 1), zone)
    span = (iso(start), iso(end))
    held = iso(as_of) if as_of is not None else FOREVER
    with store.read() as cur:
        new_rows = cur.execute(
            "SELECT department, grade, COUNT(*) AS n FROM ("
            f" SELECT {DEPARTMENT_HELD} AS department, {GRADE_HELD} AS grade FROM digest_items"
            f" WHERE filed_at >= ? AND filed_at < ? AND {FINDING_HELD}) AS held"
            " GROUP BY department, grade",
            (held, held, *span, held, held),
        ).fetchall()
        closed_rows = cur.execute(
            "SELECT department, COUNT(*) AS n FROM ("
            f" SELECT {DEPARTMENT_HELD} AS department FROM digest_items"
            " WHERE closed_at >= ? AND closed_at < ? AND closed_at <= ?) AS held"
            " GROUP BY department",
            (held, *span, held),
        ).fetchall()
        overdue_rows = cur.execute(
            "SELECT o.hazard_id, o.missed_deadline, i.number, i.location,"
            " CASE WHEN i.screened_at <= ? THEN i.department ELSE i.filed_department END"
            " AS department,"
            " (SELECT MAX(l.level) FROM digest_levels l"
            "   WHERE l.hazard_id = o.hazard_id AND l.at < ?) AS level"
            " FROM digest_overdue o JOIN digest_items i ON i.hazard_id = o.hazard_id"
            " WHERE o.began_at < ? AND (o.ended_at IS NULL OR o.ended_at >= ?)"
            " ORDER BY o.missed_deadline, i.number",
            (held, iso(cutoff), iso(cutoff), iso(cutoff)),
        ).fetchall()
        window_rows = cur.execute(
            "SELECT hazard_id, number, kind, location, place, category, description,"
            f" {DEPARTMENT_HELD} AS department, filed_at FROM digest_items"
            f" WHERE filed_at >= ? AND filed_at < ? AND {FINDING_HELD}"
            " ORDER BY filed_at, number",
            (held, iso(repeat_start), iso(end), held, held),
        ).fetchall()

    new: dict[str, dict[str, int]] = {}
    for row in new_rows:
        by_grade = new.setdefault(row["department"] or "", {})
        grade = row["grade"] or UNSCREENED
        by_grade[grade] = by_grade.get(grade, 0) + int(row["n"])
    closed = {row["department"] or "": int(row["n"]) for row in closed_rows}

    by_level: dict[str, int] = {}
    overdue: list[dict[str, Any]] = []
    for row in overdue_rows:
        level = int(row["level"] or 0)
        by_level[str(level)] = by_level.get(str(level), 0) + 1
        missed = parse(row["missed_deadline"])
        assert missed is not None
        overdue.append(
            {
                "id": row["hazard_id"],
                "number": row["number"],
                "location": row["location"],
                "department": row["department"],
                "level": level,
                "missed_deadline": row["missed_deadline"],
                "overdue_hours": round((cutoff - missed).total_seconds() / 3600, 1),
            }
        )

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in window_rows:
        groups.setdefault((row["place"], row["category"]), []).append(dict(row))
    repeats = [
        {
            "location": rows[-1]["location"],
            "kind": rows[-1]["kind"],
            "description": rows[-1]["description"],
            "category": category,
            "departments": sorted({r["department"] for r in rows if r["department"]}),
            "count": len(rows),
            "on_day": sum(1 for r in rows if span[0] <= r["filed_at"] < span[1]),
            "numbers": [r["number"] for r in rows],
            "first_filed_at": rows[0]["filed_at"],
            "last_filed_at": rows[-1]["filed_at"],
        }
        for (_, category), rows in groups.items()
        if len(rows) >= 2
    ]
    repeats.sort(key=lambda r: (-r["on_day"], -r["count"], r["location"], r["category"]))
    return {
        "date": day.isoformat(),
        "timezone": zone.key,
        "from": iso(start),
        "to": iso(end),
        "as_of": iso(as_of),
        "overdue_as_of": iso(cutoff),
        "new_findings": {
            "total": sum(sum(g.values()) for g in new.values()),
            "by_department": {d or "-": g for d, g in sorted(new.items())},
        },
        "closed": {
            "total": sum(closed.values()),
            "by_department": {d or "-": n for d, n in sorted(closed.items())},
        },
        "overdue": {
            "total": len(overdue),
            "by_level": dict(sorted(by_level.items(), key=lambda kv: int(kv[0]))),
        },
        "overdue_longest": overdue[:LONGEST],
        "repeat_window_days": repeat_window_days,
        "repeats": repeats[:MAX_REPEATS],
    }


def summary_of(digest: dict[str, Any]) -> dict[str, Any]:
    """The few figures recorded with the issued digest (the full one is at its link)."""
    return {
        "new": digest["new_findings"]["total"],
        "closed": digest["closed"]["total"],
        "overdue": digest["overdue"]["total"],
        "overdue_by_level": digest["overdue"]["by_level"],
        "repeats": len(digest["repeats"]),
    }
