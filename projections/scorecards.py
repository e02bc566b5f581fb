"""``scorecards``: per department per month (and per person), as of any recorded instant.

The read model keeps *facts*, not totals: one row per contribution of an event to a count
(``+1`` or ``-1``), with the department, the month it counts in and the instant the event
was recorded. A scorecard is the sum of the facts of its month recorded by ``as_of`` — so it
answers exactly what it showed at that instant, even for facts that changed a month after the
month ended (a veto decided later, a finding filed late), and a rebuild gives the same rows.

What counts where (months are calendar months at the site):

- ``filed``: findings of the department, in the month they were found (``occurred_at``); a
  finding filed without a department counts once it is screened to one;
- ``screened``: screenings into the department, in the month of the screening;
- ``closed``, ``closed_on_time``, ``closed_on_time_extended``: items closed in the month;
  on time against the notice's original deadline, and against the last agreed one (after an
  extension) — as the item's ``Closed`` event judged it;
- ``overdue_periods``, ``renotices``: handling opinions and re-notices issued in the month;
- ``repeats``: findings in the month that repeat another: the same place (ignoring case and
  spaces) and the same category — the same kind and the same description, ignoring case,
  spaces and punctuation (the data has no category field) — found within the site policy's
  ``repeat_window_days`` (30) of a finding filed before it. A finding later voided or merged
  as a duplicate stops counting as a repeat;
- ``violations``: findings of kind violation (三违) in the month;
- ``cases``: accountability cases of the department, in the month of the incident;
- ``vetoed``: a penalty with the veto (一票否决) fails the case's department for the month of
  the incident; the facts keep the case and person, so the scorecard links to the penalty;
- per person: ``cases`` in which they are confirmed responsible, and ``violations``: violation
  cases in which they are confirmed as the direct person (month of the incident).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.case import Case
from domain.hazard import Hazard
from domain.site_visit import location_key
from projections.base import Item, Projection, bigint
from projections.store import Cursor, ViewStore, select_in
from projections.timefmt import iso

DEPARTMENT_METRICS = (
    "filed",
    "screened",
    "closed",
    "closed_on_time",
    "closed_on_time_extended",
    "overdue_periods",
    "renotices",
    "repeats",
    "violations",
    "cases",
)
PERSON_METRICS = ("person_cases", "person_violations")
VETO = "veto"


def category_key(kind: str, description: str) -> str:
    """A finding's category with the data available: its kind and its normalised description."""
    text = "".join(
        ch
        for ch in unicodedata.normalize("NFKC", description).casefold()
        if unicodedata.category(ch)[0] in "LN"
    )
    return f"{kind}:{text}"


class Scorecards(Projection):
    name = "scorecards"
    tables = (
        "scorecard_facts",
        "scorecard_items",
        "scorecard_cases",
        "scorecard_people",
    )

    def __init__(self, timezone: str = "Asia/Shanghai", repeat_window_days: int = 30) -> None:
        self.zone = ZoneInfo(timezone)
        self.window = timedelta(days=repeat_window_days)

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS scorecard_facts ("
            f" position {bigint(dialect)} NOT NULL, n INTEGER NOT NULL,"
            " department TEXT NOT NULL, month TEXT NOT NULL, metric TEXT NOT NULL,"
            " delta INTEGER NOT NULL, person TEXT, ref TEXT, recorded_at TEXT NOT NULL,"
            " PRIMARY KEY (position, n))",
            "CREATE INDEX IF NOT EXISTS scorecard_facts_month"
            " ON scorecard_facts (month, recorded_at)",
            "CREATE TABLE IF NOT EXISTS scorecard_items ("
            " hazard_id TEXT PRIMARY KEY, department TEXT, month TEXT NOT NULL,"
            " kind TEXT NOT NULL, place TEXT NOT NULL, category TEXT NOT NULL,"
            " occurred_at TEXT NOT NULL, is_repeat INTEGER NOT NULL, gone INTEGER NOT NULL)",
            "CREATE INDEX IF NOT EXISTS scorecard_items_repeat"
            " ON scorecard_items (place, category, occurred_at)",
            "CREATE TABLE IF NOT EXISTS scorecard_cases ("
            " case_id TEXT PRIMARY KEY, department TEXT NOT NULL, month TEXT NOT NULL,"
            " kind TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS scorecard_people ("
            " case_id TEXT NOT NULL, person TEXT NOT NULL, direct INTEGER NOT NULL,"
            " veto_period TEXT, PRIMARY KEY (case_id, person))",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        # The batch's findings are read once and kept up to date in memory (``known``); the
        # findings filed in the batch, the changed ones and the facts are written at the end.
        batch = _Batch(cur, [e for _, e in items if isinstance(e, Hazard.Event)], self.window)
        for pos, e in items:
            facts = _Facts(pos, iso(e.timestamp) or "")
            if isinstance(e, Hazard.Event):
                self._hazard(e, facts, batch)
            elif isinstance(e, Case.Event):
                self._case(cur, e, facts)
            batch.facts += facts.rows
        batch.write(cur)

    def month(self, instant: datetime) -> str:
        return f"{instant.astimezone(self.zone):%Y-%m}"

    # -- findings ----------------------------------------------------------------------------

    def _hazard(self, e: Any, facts: _Facts, batch: _Batch) -> None:
        hazard_id = str(e.originator_id)
        if isinstance(e, Hazard.Reported):
            self._reported(e, facts, batch)
            return
        item = batch.known.get(hazard_id)
        assert item is not None, f"event {type(e).__name__} for an unknown item"
        department = item["department"]
        when = self.month(e.occurred_at)
        if isinstance(e, Hazard.Screened):
            if e.department != department:
                _standing(facts, item, department, -1)
                _standing(facts, item, e.department, +1)
                item["department"] = e.department
                batch.changed.add(hazard_id)
            facts.add(e.department, when, "screened")
            return
        if isinstance(e, Hazard.Voided | Hazard.Merged):
            if item["is_repeat"] and not item["gone"] and department:
                facts.add(department, item["month"], "repeats", -1)
            item["gone"] = 1
            batch.changed.add(hazard_id)
            return
        if department is None:
            return
        if isinstance(e, Hazard.HandlingOpinionIssued):
            facts.add(department, when, "overdue_periods")
        elif isinstance(e, Hazard.ReNoticed):
            facts.add(department, when, "renotices")
        elif isinstance(e, Hazard.Closed):
            facts.add(department, when, "closed")
            if e.on_time:
                facts.add(department, when, "closed_on_time")
            if e.on_time_extended:
                facts.add(department, when, "closed_on_time_extended")

    def _reported(self, e: Any, facts: _Facts, batch: _Batch) -> None:
        place = location_key(e.location)
        category = category_key(e.kind, e.description)
        item = {
            "hazard_id": str(e.originator_id),
            "department": e.department,
            "month": self.month(e.occurred_at),
            "kind": e.kind,
            "place": place,
            "category": category,
            "occurred_at": iso(e.occurred_at),
            "is_repeat": 1 if batch.repeats(e, place, category) else 0,
            "gone": 0,
        }
        batch.add(item)
        _standing(facts, item, e.department, +1)

    # -- cases -------------------------------------------------------------------------------

    def _case(self, cur: Cursor, e: Any, facts: _Facts) -> None:
        case_id = str(e.originator_id)
        if isinstance(e, Case.Opened):
            month = self.month(e.occurred_at)
            cur.execute(
                "INSERT INTO scorecard_cases (case_id, department, month, kind)"
                " VALUES (?, ?, ?, ?)",
                (case_id, e.department, month, e.kind),
            )
            facts.add(e.department, month, "cases")
            return
        case = cur.execute("SELECT * FROM scorecard_cases WHERE case_id = ?", (case_id,)).fetchone()
        assert case is not None, f"event {type(e).__name__} for an unknown case"
        dept, month = case["department"], case["month"]
        if not isinstance(
            e, Case.ResponsibilityConfirmed | Case.ResponsibilityRemoved | Case.PenaltyDecided
        ):
            return
        person = cur.execute(
            "SELECT * FROM scorecard_people WHERE case_id = ? AND person = ?",
            (case_id, e.person),
        ).fetchone()
        if isinstance(e, Case.ResponsibilityConfirmed):
            direct = 1 if case["kind"] == "violation" and e.role == "direct" else 0
            if person is None:
                cur.execute(
                    "INSERT INTO scorecard_people (case_id, person, direct, veto_period)"
                    " VALUES (?, ?, ?, NULL)",
                    (case_id, e.person, direct),
                )
                facts.add(dept, month, "person_cases", person=e.person)
            elif person["direct"] != direct:
                cur.execute(
                    "UPDATE scorecard_people SET direct = ? WHERE case_id = ? AND person = ?",
                    (direct, case_id, e.person),
                )
            if direct != (person["direct"] if person else 0):
                facts.add(dept, month, "person_violations", direct or -1, person=e.person)
        elif person is None:
            return  # removing someone only proposed, or a penalty for an unknown person
        elif isinstance(e, Case.ResponsibilityRemoved):
            facts.add(dept, month, "person_cases", -1, person=e.person)
            if person["direct"]:
                facts.add(dept, month, "person_violations", -1, person=e.person)
            if person["veto_period"]:
                facts.add(dept, person["veto_period"], VETO, -1, person=e.person, ref=case_id)
            cur.execute(
                "DELETE FROM scorecard_people WHERE case_id = ? AND person = ?",
                (case_id, e.person),
            )
        else:  # a penalty decision (a later one replaces an earlier one)
            old, new = person["veto_period"], e.period if e.veto else None
            if old != new:
                if old:
                    facts.add(dept, old, VETO, -1, person=e.person, ref=case_id)
                if new:
                    facts.add(dept, new, VETO, +1, person=e.person, ref=case_id)
                cur.execute(
                    "UPDATE scorecard_people SET veto_period = ? WHERE case_id = ? AND person = ?",
                    (new, case_id, e.person),
                )


def _standing(facts: _Facts, item: Any, department: str | None, sign: int) -> None:
    """The counts a finding carries for its department: filed, violations, repeats."""
    if department is None:
        return
    facts.add(department, item["month"], "filed", sign)
    if item["kind"] == "violation":
        facts.add(department, item["month"], "violations", sign)
    if item["is_repeat"] and not item["gone"]:
        facts.add(department, item["month"], "repeats", sign)


class _Batch:
    """The findings one batch touches, as they stand after each of its events so far.

    Whether a new finding repeats an earlier one is asked of the rows recorded before the
    batch in one query for the whole batch (``_recorded_repeats``), and of the batch's own
    findings and changes in memory: together they give what the table held at that event.
    """

    ITEM_COLUMNS = (
        "hazard_id, department, month, kind, place, category, occurred_at, is_repeat, gone"
    )

    def __init__(self, cur: Cursor, events: Sequence[Any], window: timedelta) -> None:
        self.window = window
        self.known = _known_items(cur, events)
        self.new: list[dict[str, Any]] = []
        self.changed: set[str] = set()
        self.facts: list[tuple[Any, ...]] = []
        # findings by (place, category), for the repeat look-ups answered in memory
        self.by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for item in self.known.values():
            self.by_key.setdefault((item["place"], item["category"]), []).append(item)
        reported = [e for e in events if isinstance(e, Hazard.Reported)]
        ending = {
            str(e.originator_id) for e in events if isinstance(e, Hazard.Voided | Hazard.Merged)
        }
        self.recorded = _recorded_repeats(cur, reported, window, ending)

    def repeats(self, e: Any, place: str, category: str) -> bool:
        """Whether a finding not voided or merged by now was found within the window."""
        if str(e.originator_id) in self.recorded:
            return True
        low, high = iso(e.occurred_at - self.window), iso(e.occurred_at + self.window)
        return any(
            not item["gone"] and low <= item["occurred_at"] <= high
            for item in self.by_key.get((place, category), ())
        )

    def add(self, item: dict[str, Any]) -> None:
        self.known[item["hazard_id"]] = item
        self.new.append(item)
        self.by_key.setdefault((item["place"], item["category"]), []).append(item)

    def write(self, cur: Cursor) -> None:
        new = {item["hazard_id"] for item in self.new}
        if self.new:
            cur.executemany(
                f"INSERT INTO scorecard_items ({self.ITEM_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                [tuple(item.values()) for item in self.new],
            )
        changed = [self.known[key] for key in sorted(self.changed - new)]
        if changed:
            cur.executemany(
                "UPDATE scorecard_items SET department = ?, gone = ? WHERE hazard_id = ?",
                [(item["department"], item["gone"], item["hazard_id"]) for item in changed],
            )
        _write_facts(cur, self.facts)


def _known_items(cur: Cursor, events: Sequence[Any]) -> dict[str, dict[str, Any]]:
    ids = sorted({str(e.originator_id) for e in events if not isinstance(e, Hazard.Reported)})
    return {
        row["hazard_id"]: dict(row)
        for row in select_in(cur, "SELECT * FROM scorecard_items WHERE hazard_id IN", ids)
    }


def _recorded_repeats(
    cur: Cursor, reported: Sequence[Any], window: timedelta, ending: set[str]
) -> set[str]:
    """The new findings that repeat one recorded before the batch and not voided or merged
    — leaving out the findings the batch voids or merges (``ending``: those are asked in
    memory, as they stand at each event)."""
    found: set[str] = set()
    skip = sorted(ending)
    for start in range(0, len(reported), 200):
        chunk = reported[start : start + 200]
        params: list[Any] = []
        for e in chunk:
            params += [
                str(e.originator_id),
                location_key(e.location),
                category_key(e.kind, e.description),
                iso(e.occurred_at - window),
                iso(e.occurred_at + window),
            ]
        rows = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))
        leave_out = f" AND s.hazard_id NOT IN ({','.join('?' * len(skip))})" if skip else ""
        found.update(
            row["id"]
            for row in cur.execute(
                f"WITH q (id, place, category, low, high) AS (VALUES {rows})"
                " SELECT q.id AS id FROM q WHERE EXISTS (SELECT 1 FROM scorecard_items s"
                " WHERE s.place = q.place AND s.category = q.category"
                " AND s.occurred_at >= q.low AND s.occurred_at <= q.high AND s.gone = 0"
                f"{leave_out})",
                [*params, *skip],
            ).fetchall()
        )
    return found


class _Facts:
    """The facts one event contributes (numbered within the event)."""

    def __init__(self, position: int, recorded_at: str) -> None:
        self.position = position
        self.recorded_at = recorded_at
        self.rows: list[tuple[Any, ...]] = []

    def add(
        self,
        department: str,
        month: str,
        metric: str,
        delta: int = 1,
        *,
        person: str | None = None,
        ref: str | None = None,
    ) -> None:
        self.rows.append(
            (
                self.position,
                len(self.rows),
                department,
                month,
                metric,
                delta,
                person,
                ref,
                self.recorded_at,
            )
        )


def _write_facts(cur: Cursor, rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        cur.executemany(
            "INSERT INTO scorecard_facts (position, n, department, month, metric, delta,"
            " person, ref, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


# -- queries -----------------------------------------------------------------------------------


def scorecard(store: ViewStore, month: str, as_of: datetime | None = None) -> dict[str, Any]:
    """``{departments: {code: {metric: n, vetoed_by: [...]}}, people: {id: {...}}}``."""
    cutoff = "" if as_of is None else " AND recorded_at <= ?"
    params: tuple[Any, ...] = (month,) if as_of is None else (month, iso(as_of))
    departments: dict[str, dict[str, Any]] = {}
    people: dict[str, dict[str, int]] = {}
    with store.read() as cur:
        rows = cur.execute(
            "SELECT department, metric, person, SUM(delta) AS n FROM scorecard_facts"
            f" WHERE month = ?{cutoff} AND metric <> ? GROUP BY department, metric, person",
            (*params, VETO),
        ).fetchall()
        vetoes = cur.execute(
            "SELECT department, ref, person, SUM(delta) AS n, MAX(recorded_at) AS decided_at"
            f" FROM scorecard_facts WHERE month = ?{cutoff} AND metric = ?"
            " GROUP BY department, ref, person",
            (*params, VETO),
        ).fetchall()
    for row in rows:
        n = int(row["n"])
        if row["metric"] in PERSON_METRICS:
            entry = people.setdefault(row["person"], {"cases": 0, "violations": 0})
            key = row["metric"].removeprefix("person_")
            entry[key] += n
        else:
            departments.setdefault(row["department"], empty_score())[row["metric"]] += n
    for row in sorted(vetoes, key=lambda r: (r["department"], r["ref"], r["person"])):
        if int(row["n"]) > 0:
            departments.setdefault(row["department"], empty_score())["vetoed_by"].append(
                {"case_id": row["ref"], "person": row["person"], "decided_at": row["decided_at"]}
            )
    for entry in departments.values():
        entry["vetoed"] = bool(entry["vetoed_by"])
    return {"departments": departments, "people": people}


def empty_score() -> dict[str, Any]:
    return {**dict.fromkeys(DEPARTMENT_METRICS, 0), "vetoed": False, "vetoed_by": []}
