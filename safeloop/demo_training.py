"""The demo mine's training part: certificates (most valid, some due, some lapsed — one held by
a manager who goes underground every day, so the tick files the violation), training sessions,
pre-shift checklist templates with runs for the last days (a few lines "not ok", the current
shift of one face left without a run), and a few urgent findings phoned in to the dispatch
room (one answered in time, one escalated by the tick, one still running).

Scheduled on the demo's simulation (``safeloop.demo``) with its own random numbers, so the
findings' history of a seed stays as it was without it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from domain.checklists import RunLine
from domain.training import CertificateRow
from projections import certificates, checklists

if TYPE_CHECKING:
    from safeloop.demo import _Sim
    from safeloop.system import System

OFFICE = "X01"
#: the certificate each unit's people hold (special operations, 特种作业)
CERTIFICATE_TYPES = {
    "ZC1": "采煤机司机操作证",
    "JJ1": "掘进机司机操作证",
    "JD": "电工作业操作证",
    "YS": "提升机操作作业证",
    "TF": "瓦斯检查作业证",
    "FSH": "探放水作业证",
}
TEMPLATES: list[dict[str, Any]] = [
    {
        "code": "longwall",
        "name": "综采工作面班前隐患辨识（五位一体）",
        "work_face_type": "longwall",
        "items": [
            "支架初撑力、护帮板及端面距符合规程",
            "上隅角及回风流瓦斯浓度未超限",
            "煤壁无片帮、顶板无离层与漏顶",
            "两巷超前支护完好、安全出口畅通",
            "采煤机、刮板输送机闭锁及急停有效",
            "喷雾降尘装置正常",
        ],
        "work_faces": [{"code": "1301综采工作面", "department": "ZC1"}],
    },
    {
        "code": "heading",
        "name": "掘进工作面班前隐患辨识（五位一体）",
        "work_face_type": "heading",
        "items": [
            "临时支护到位，空顶距不超规程",
            "局部通风机运转正常、风筒吊挂到位",
            "迎头瓦斯浓度未超限，甲烷传感器位置正确",
            "掘进机截割头喷雾、闭锁有效",
            "顶帮锚杆（索）及金属网完好",
        ],
        "work_faces": [{"code": "2201回风顺槽掘进迎头", "department": "JJ1"}],
    },
]
NOTES = ["3号支架初撑力不足", "上隅角瓦斯 0.9%", "机尾片帮约 0.5 m", "风筒破口漏风", "喷雾堵塞"]
URGENT = [
    ("1301回风顺槽顶板来压，有掉渣现象，人员已撤出", "1301回风顺槽", "ZC1"),
    ("+350水平配电点电缆冒烟，有焦糊味", "+350水平配电点", "JD"),
    ("2201回风顺槽掘进迎头瓦斯浓度报警 1.2%", "2201回风顺槽掘进迎头", "JJ1"),
]


def plan_demo_training(sim: _Sim, start: datetime, seed: int) -> None:
    rng = random.Random(seed * 104729 + 3)
    app = sim.system.app
    end = sim.end
    setup = start - timedelta(hours=20)

    def define(at: datetime) -> None:
        for template in TEMPLATES:
            code = template["code"]
            definition = {k: v for k, v in template.items() if k != "code"}
            app.define_checklist_template(code, definition, actor="admin", now=at)

    sim.at(setup, define)
    sim.at(setup, _certificates(sim, rng, end))
    _sessions(sim, rng, start)
    _runs(sim, rng, end)
    _urgent(sim, end)


def _certificates(sim: _Sim, rng: random.Random, end: datetime) -> Callable[[datetime], None]:
    app = sim.system.app

    def run(now: datetime) -> None:
        rows = []
        for unit, kind in CERTIFICATE_TYPES.items():
            for n in range(1, 5):
                person = f"{unit}-{n}"
                issued = now - timedelta(days=rng.randint(200, 1000))
                expires = end + timedelta(days=rng.randint(60, 1000))
                rows.append(
                    CertificateRow(
                        person, kind, f"T{unit}{n:02d}{rng.randrange(10**6):06d}", issued, expires
                    )
                )
        # due soon (reminders go out), lapsed without a visit, and lapsed with daily visits
        rows[1] = _with(rows[1], expires=end + timedelta(days=12))
        rows[6] = _with(rows[6], expires=end + timedelta(days=25))
        rows[3] = _with(rows[3], expires=end - timedelta(days=2))  # ZC1-4, a worker
        rows[10] = _with(rows[10], expires=end - timedelta(days=4, hours=3))  # JD-3, underground
        for row in rows:
            app.record_certificate(row, actor="admin", now=now)

    return run


def _with(row: CertificateRow, *, expires: datetime) -> CertificateRow:
    return CertificateRow(row.person, row.certificate_type, row.number, row.issued_at, expires)


def _sessions(sim: _Sim, rng: random.Random, start: datetime) -> None:
    app = sim.system.app
    plan = [
        ("mine", "《煤矿安全规程》新修订条款宣贯", None),
        ("unit", "顶板管理与支护质量", "ZC1"),
        ("team", "班前隐患辨识与手指口述", "JJ1"),
        ("special", "特种作业人员复训：电工作业", "JD"),
        ("unit", "一通三防", "TF"),
        ("team", "雨季三防与探放水", "FSH"),
    ]
    days = max(1, (sim.end - start).days)
    for i, (level, topic, unit) in enumerate(plan):
        held = sim.end - timedelta(days=days * (len(plan) - i) / (len(plan) + 1), hours=3)
        units = [unit] if unit else list(CERTIFICATE_TYPES)
        attendees = [
            {
                "person": f"{u}-{n}",
                "score": float(rng.randint(62, 100)),
                "passed": True,
            }
            for u in units
            for n in range(1, 5)
        ]
        attendees[-1] = {**attendees[-1], "score": 52.0, "passed": False}

        def record(
            now: datetime,
            level: str = level,
            topic: str = topic,
            unit: str | None = unit,
            attendees: list[dict[str, Any]] = attendees,
            held: datetime = held,
        ) -> None:
            app.record_training_session(
                level=level,
                topic=topic,
                department=unit,
                held_at=held,
                attendees=attendees,
                actor="admin",
                now=now,
            )

        sim.at(held + timedelta(hours=2), record)


def _runs(sim: _Sim, rng: random.Random, end: datetime) -> None:
    """Runs for the shifts of the last three days, 20 minutes before each; the current
    shift of the heading face has none (the board and the digest show it)."""
    app = sim.system.app
    policy = sim.system.policy
    shifts = [s for s in policy.shift_starts_around(end, days=3) if s <= end]
    for template in TEMPLATES:
        face = template["work_faces"][0]
        for shift in shifts:
            if template["code"] == "heading" and shift == shifts[-1]:
                continue
            lines = [
                RunLine(item, ok=rng.random() > 0.08, note=rng.choice(NOTES))
                for item in template["items"]
            ]
            lines = [RunLine(line.item, line.ok, "" if line.ok else line.note) for line in lines]
            leader = f"{face['department']}-3"

            def record(
                now: datetime,
                code: str = template["code"],
                face: dict[str, str] = face,
                shift: datetime = shift,
                lines: list[RunLine] = lines,
                leader: str = leader,
            ) -> None:
                app.record_checklist_run(
                    template=code,
                    work_face=face["code"],
                    department=face["department"],
                    shift_start=shift,
                    team_leader=leader,
                    lines=lines,
                    actor=leader,
                    now=now,
                )

            sim.at(shift - timedelta(minutes=20), record)


def _urgent(sim: _Sim, end: datetime) -> None:
    """Three findings phoned in: answered in time; left unanswered past its timers (the
    hourly tick escalates them); and one phoned in just now."""
    app = sim.system.app
    filed: dict[int, Any] = {}

    def phone(i: int) -> Callable[[datetime], None]:
        description, place, unit = URGENT[i]

        def run(now: datetime) -> None:
            filed[i] = app.file_hazard(
                kind="hazard",
                description=description,
                location=place,
                reporter=OFFICE,
                reporter_role="manager",
                occurred_at=now - timedelta(minutes=2),
                department=unit,
                urgent=True,
                actor=OFFICE,
                now=now,
            ).id

        return run

    def step(i: int, what: str) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            hid = filed[i]
            unit = URGENT[i][2]
            if what == "ack":
                app.respond(hid, step="acknowledged", note="调度室已接警", actor=OFFICE, now=now)
            elif what == "screen":
                app.screen(hid, grade="major", department=unit, actor=OFFICE, now=now)
            elif what == "notice":
                app.issue_notice(
                    hid,
                    responsible_person=f"{unit}-1",
                    measures="撤出人员、设置警戒，专业队伍现场处置",
                    funds=0,  # type: ignore[arg-type]
                    deadline=now + timedelta(hours=8),
                    contingency="情况恶化立即停产撤人，汇报调度室（电话 8000）",
                    actor=OFFICE,
                    now=now,
                )
            else:
                app.respond(
                    hid, step="first_measure", note="已撤人、断电", actor=f"{unit}-2", now=now
                )

        return run

    first = end - timedelta(days=2, hours=5)
    sim.at(first, phone(0))
    for minutes, what in ((3, "ack"), (8, "screen"), (22, "notice"), (47, "measure")):
        sim.at(first + timedelta(minutes=minutes), step(0, what))
    second = end - timedelta(hours=6, minutes=30)
    sim.at(second, phone(1))
    for minutes, what in ((95, "screen"), (140, "notice")):
        sim.at(second + timedelta(minutes=minutes), step(1, what))
    third = end - timedelta(minutes=3)
    sim.at(third, phone(2))


def demo_training_summary(system: System) -> str:
    store = system.store
    now = system.now()
    org = system.app.org()
    rows = certificates.of_people(store, sorted(org.people))
    due, lapsed = certificates.due_and_lapsed(
        rows, now, timedelta(days=max(system.policy.certificate_reminder_days))
    )
    shifts = system.policy.shift_starts_around(now, days=0)
    missing = checklists.missing_runs(store, shifts, now)
    return (
        f"training: {len(rows)} certificates ({len(due)} due, {len(lapsed)} lapsed),"
        f" {len(checklists.templates(store))} checklist templates,"
        f" {len(checklists.runs(store, limit=1000))} checklist runs,"
        f" {len(missing)} shift(s) of today without a run before it; 3 urgent findings"
    )
