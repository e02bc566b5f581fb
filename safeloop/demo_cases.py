"""The demo mine's accountability part: managers' site visits (a daily attendance import) and
three cases — one closed through all four gates, one blocked by a measure still open, one just
opened. Items the simulation leaves overdue past the case level open their own cases.

Scheduled on the demo's simulation (``safeloop.demo``), so every event is recorded at its
simulated time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.site_visit import VisitRow
from projections import cases, site_visits

if TYPE_CHECKING:
    from domain.application import SafeLoop
    from safeloop.demo import _Sim
    from safeloop.system import System

OFFICE = "X01"
CHECKER = "A01"

#: (unit, place of the incident)
CLOSED_CASE = ("ZC1", "1301综采工作面")
BLOCKED_CASE = ("JJ1", "2201回风顺槽掘进迎头")
NEW_CASE = ("JD", "主斜井")


def plan_demo_cases(
    sim: _Sim, start: datetime, places: dict[str, list[str]], leaders: list[str], seed: int
) -> None:
    """Schedule the visits and the cases on the simulation (the cases need 5 days or more).

    The visits draw from their own random numbers, so the findings' history of a seed stays
    as it was without them."""
    end = sim.end
    days = (end - start).days
    incidents = {
        CLOSED_CASE: end - timedelta(days=min(20.0, days * 0.6)),
        BLOCKED_CASE: end - timedelta(days=min(3.0, days * 0.4)),
        NEW_CASE: end - timedelta(hours=10),
    }
    _plan_visits(sim, random.Random(seed * 7919 + 1), start, places, leaders, incidents)
    if days < 5:
        return
    _closed_case(sim, incidents[CLOSED_CASE])
    _blocked_case(sim, incidents[BLOCKED_CASE])
    _new_case(sim, incidents[NEW_CASE])


# -- site visits -------------------------------------------------------------------------------


def _plan_visits(
    sim: _Sim,
    rng: random.Random,
    start: datetime,
    places: dict[str, list[str]],
    leaders: list[str],
    incidents: dict[tuple[str, str], datetime],
) -> None:
    """Each day, the unit's managers go underground to their workplaces, a leader now and then;
    the attendance system's records of a day are imported the next morning."""
    app = sim.system.app
    day = start.replace(hour=22, minute=0, second=0, microsecond=0)
    while day < sim.end:
        rows: list[VisitRow] = []
        for unit, unit_places in places.items():
            for pid in (f"{unit}-1", f"{unit}-2", f"{unit}-3"):
                for _ in range(rng.randint(1, 2)):
                    at = day + timedelta(hours=rng.uniform(0, 22))
                    rows.append(VisitRow(pid, rng.choice(unit_places), at))
            if rng.random() < 0.3:
                at = day + timedelta(hours=rng.uniform(0, 22))
                rows.append(VisitRow(rng.choice(leaders), rng.choice(unit_places), at))
        # keep the windows of the demo's own incidents to the visits each case names below
        rows = [
            r
            for r in rows
            if not any(
                r.location == place and at - timedelta(hours=26) <= r.at <= at + timedelta(hours=2)
                for (_, place), at in incidents.items()
            )
        ]
        sim.at(day + timedelta(days=1, hours=8), _importer(app, rows, f"{day:%Y%m%d}"))
        day += timedelta(days=1)


def _importer(app: SafeLoop, rows: list[VisitRow], day: str) -> Callable[[datetime], object]:
    def run(now: datetime) -> object:
        return app.record_site_visits(
            rows, source=f"import:attendance-{day}.csv", actor="admin", now=now
        )

    return run


def _visits(sim: _Sim, place: str, at: datetime, who: list[tuple[str, float]]) -> None:
    """Visits (person, hours before ``at``) looked up for the incident an hour after it."""
    rows = [VisitRow(pid, place, at - timedelta(hours=hours)) for pid, hours in who]
    sim.at(
        at + timedelta(hours=1),
        lambda now: sim.system.app.record_site_visits(
            rows, source="import:incident-query", actor=OFFICE, now=now
        ),
    )


# -- the cases ---------------------------------------------------------------------------------


class _Case:
    """Steps of one demo case, each run at its simulated time."""

    def __init__(self, sim: _Sim) -> None:
        self.sim = sim
        self.app = sim.system.app
        self.id: UUID | None = None
        self.measure: UUID | None = None

    def at(self, when: datetime, step: Callable[[UUID, datetime], Any]) -> None:
        def run(now: datetime) -> None:
            if self.id is not None:
                step(self.id, now)

        self.sim.at(when, run)

    def open(self, when: datetime, findings: dict[str, UUID] | None = None, **kw: Any) -> None:
        """Open at ``when``, linked to the findings filed by then (``findings``' values)."""

        def run(now: datetime) -> None:
            self.sim.system.runner.catch_up()  # the visit index includes the visits just read
            linked = list((findings or {}).values())
            self.id = self.app.open_case(actor=OFFICE, now=now, findings=linked, **kw).id

        self.sim.at(when, run)

    def settle(
        self,
        when: datetime,
        cause: str,
        keep: dict[str, tuple[str, Decimal | None, bool]],
        drop_reason: str,
        education: str,
    ) -> None:
        """Cause; confirm ``keep`` (person: penalty kind, amount, veto), remove the others;
        educate them."""
        app = self.app

        def run(case_id: UUID, now: datetime) -> None:
            app.record_cause(case_id, analysis=cause, actor=OFFICE, now=now)
            for entry in app.case(case_id).proposal:
                if entry["person"] not in keep:
                    app.remove_responsibility(
                        case_id, person=entry["person"], reason=drop_reason, actor=OFFICE, now=now
                    )
            for person, (kind, amount, veto) in keep.items():
                app.confirm_responsibility(
                    case_id, person=person, role=None, basis="", actor=OFFICE, now=now
                )
                app.decide_penalty(
                    case_id,
                    person=person,
                    kind=kind,
                    amount=amount,
                    veto=veto,
                    actor=OFFICE,
                    now=now,
                )

        self.at(when, run)
        self.at(
            when + timedelta(hours=3),
            lambda case_id, now: app.record_education(
                case_id,
                topic=education,
                held_at=now - timedelta(hours=1),
                attendees=list(keep),
                actor=OFFICE,
                now=now,
            ),
        )

    def measure_at(
        self, when: datetime, measures: str, person: str, unit: str, days: float
    ) -> None:
        def run(case_id: UUID, now: datetime) -> None:
            self.measure = self.app.assign_measure(
                case_id,
                measures=measures,
                responsible_person=person,
                department=unit,
                deadline=now + timedelta(days=days),
                actor=OFFICE,
                now=now,
            ).hazard_id

        self.at(when, run)


def _closed_case(sim: _Sim, at: datetime) -> None:
    unit, place = CLOSED_CASE
    app = sim.system.app
    case = _Case(sim)
    _visits(sim, place, at, [(f"{unit}-2", 20), ("L02", 3), ("L05", 30)])
    finding: dict[str, UUID] = {}

    def file(now: datetime) -> None:
        finding["id"] = app.file_hazard(
            kind="violation",
            description="违章指挥工人进入空顶区作业",
            location=place,
            reporter="A02",
            reporter_role="safety_supervisor",
            occurred_at=at,
            department=unit,
            client_ref="demo-case-1",
            actor="A02",
            now=now,
        ).id
        app.fix_on_spot(finding["id"], note="当场制止，撤出空顶区", actor="A02", now=now)

    sim.at(at + timedelta(minutes=10), file)
    sim.at(
        at + timedelta(hours=4),
        lambda now: app.recheck(finding["id"], passed=True, note="已撤出", actor=CHECKER, now=now),
    )
    case.open(
        at + timedelta(hours=2),
        kind="violation",
        description="跟班队长违章指挥工人进入 1301 综采工作面空顶区作业，被安全监察员当场制止",
        location=place,
        department=unit,
        occurred_at=at,
        direct_person=f"{unit}-4",
        findings=finding,
    )
    case.settle(
        at + timedelta(days=1),
        cause="现场未执行敲帮问顶制度，跟班队长违章指挥；班前会未交底空顶区危险",
        keep={
            f"{unit}-4": ("fine", Decimal(200), False),
            f"{unit}-3": ("fine", Decimal(300), False),
            f"{unit}-2": ("demotion", None, False),
            f"{unit}-1": ("fine", Decimal(1000), True),
            "L02": ("warning", None, False),
        },
        drop_reason="事发前 24 小时内未到现场，已按规定督办，不予追责",
        education="“三违”警示教育及顶板管理规程学习",
    )
    case.measure_at(
        at + timedelta(days=1, hours=1),
        "空顶区设置警戒和栅栏，完善敲帮问顶制度并每班检查",
        f"{unit}-1",
        unit,
        days=2,
    )

    def rectify(case_id: UUID, now: datetime) -> None:
        assert case.measure is not None
        app.submit(
            case.measure, evidence=["警戒设置照片", "检查记录"], note="", actor=f"{unit}-1", now=now
        )

    def recheck(case_id: UUID, now: datetime) -> None:
        assert case.measure is not None
        app.recheck(case.measure, passed=True, note="复查合格", actor=CHECKER, now=now)

    case.at(at + timedelta(days=2), rectify)
    case.at(at + timedelta(days=2, hours=4), recheck)
    case.at(
        at + timedelta(days=2, hours=6),
        lambda case_id, now: app.close_case(case_id, actor=OFFICE, now=now),
    )


def _blocked_case(sim: _Sim, at: datetime) -> None:
    unit, place = BLOCKED_CASE
    case = _Case(sim)
    _visits(sim, place, at, [(f"{unit}-2", 10), (f"{unit}-3", 5), ("L03", 2)])
    case.open(
        at + timedelta(hours=1),
        kind="injury_accident",
        description="掘进迎头片帮，一名工人左臂擦伤（轻伤）",
        location=place,
        department=unit,
        occurred_at=at,
        direct_person=f"{unit}-4",
    )
    case.settle(
        at + timedelta(hours=20),
        cause="迎头临时支护不及时，帮部未打护帮锚杆；作业人员站位不当",
        keep={
            f"{unit}-4": ("warning", None, False),
            f"{unit}-3": ("fine", Decimal(500), False),
            f"{unit}-2": ("fine", Decimal(800), False),
            f"{unit}-1": ("fine", Decimal(1500), False),
        },
        drop_reason="非本专业分管，已履职",
        education="顶帮管理专项安全教育",
    )
    case.measure_at(
        at + timedelta(hours=21),
        "迎头帮部补打护帮锚杆，完善临时支护，修订作业规程",
        f"{unit}-1",
        unit,
        days=7,
    )


def _new_case(sim: _Sim, at: datetime) -> None:
    unit, place = NEW_CASE
    case = _Case(sim)
    _visits(sim, place, at, [(f"{unit}-3", 4)])
    case.open(
        at + timedelta(hours=2),
        kind="non_injury_accident",
        description="主斜井带式输送机跑偏撕裂输送带，停产两小时",
        location=place,
        department=unit,
        occurred_at=at,
        direct_person=f"{unit}-4",
    )


def demo_cases_summary(system: System) -> str:
    """One line: the site visits and cases the demo holds."""
    visits = site_visits.count(system.store)
    states = cases.count_by_state(system.store)
    by_state = ", ".join(f"{n} {state}" for state, n in states.items()) or "none"
    return f"{visits} site visits; accountability cases: {by_state}"
