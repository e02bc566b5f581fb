"""A demo mine: eight departments, forty people, and a simulated history of findings.

The history is simulated in time order through the Application (every command with its own
``now`` in the past, and an hourly tick), so the log reads as if the mine had used safeloop
for the past weeks: items in every state, some overdue and escalated, some rechecks failed.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.errors import DomainError
from domain.hazard import OPEN_STATES, S
from safeloop.accounts import demo_logins
from safeloop.demo_cases import demo_cases_summary, plan_demo_cases
from safeloop.demo_notify import demo_notifications
from safeloop.demo_training import demo_training_summary, plan_demo_training
from safeloop.system import System

# -- the organisation --------------------------------------------------------------------------

LEADERS = [
    ("L01", "王建国", "mine_chief", None),
    ("L02", "刘志强", "deputy_chief", None),  # 生产副矿长: mining, excavation
    ("L03", "陈国华", "deputy_chief", None),  # 机电副矿长: electromechanical, transport
    ("L04", "杨永胜", "deputy_chief", None),  # 总工程师: ventilation, water
    ("L05", "赵立新", "leader", None),  # 安全副矿长
    ("L06", "孙红梅", "leader", None),  # 党委书记
]

UNITS = [
    # code, zh, en, specialty, deputy chief, leader in charge, people (head, shift, team, worker)
    (
        "ZC1",
        "综采一队",
        "Longwall Team 1",
        "mining",
        "L02",
        "L05",
        ["张卫东", "李海涛", "王成林", "刘小军"],
    ),
    (
        "JJ1",
        "综掘一队",
        "Heading Team 1",
        "excavation",
        "L02",
        "L05",
        ["周建军", "吴志明", "郑宝山", "马永刚"],
    ),
    (
        "JD",
        "机电队",
        "Electromechanical Team",
        "electromechanical",
        "L03",
        "L06",
        ["黄德胜", "徐长青", "朱振华", "胡文斌"],
    ),
    (
        "YS",
        "运输队",
        "Transport Team",
        "transport",
        "L03",
        "L06",
        ["郭庆丰", "何建平", "高玉林", "林海波"],
    ),
    (
        "TF",
        "通风队",
        "Ventilation Team",
        "ventilation",
        "L04",
        "L05",
        ["罗国强", "梁志勇", "宋金山", "谢东升"],
    ),
    (
        "FSH",
        "防治水队",
        "Water Control Team",
        "water",
        "L04",
        "L06",
        ["韩秀峰", "唐立军", "冯家宝", "邓新春"],
    ),
]
UNIT_ROLES = ("unit_head", "shift_manager", "team_leader", "worker")

FUNCTIONAL = [
    (
        "AJC",
        "安监处",
        "Safety Supervision Dept",
        "safety",
        "L04",
        "L05",
        [
            ("A01", "曹振国", "safety_dept"),
            ("A02", "彭立华", "safety_supervisor"),
            ("A03", "曾宪伟", "safety_supervisor"),
        ],
    ),
    (
        "XXB",
        "安全信息办",
        "Safety Information Office",
        "information",
        "L04",
        "L05",
        [
            ("X01", "蒋慧敏", "info_office"),
            ("X02", "蔡文静", "info_office"),
            ("X03", "许丽娟", "staff"),
            ("X04", "沈文涛", "auditor"),
        ],
    ),
]
EXTRA_PEOPLE = [
    ("M01", "田大勇", "mass_supervisor", "ZC1"),
    ("Y01", "潘晓宇", "youth_monitor", "JJ1"),
    ("S01", "董秀英", "staff", "JD"),
    ("W01", "袁小兵", "worker", "TF"),
]


def demo_org() -> dict[str, list[dict[str, Any]]]:
    people: list[dict[str, Any]] = [
        {"id": pid, "name": name, "role": role, "department": dept}
        for pid, name, role, dept in LEADERS
    ]
    departments: list[dict[str, Any]] = []
    for code, zh, en, specialty, deputy, leader, names in UNITS:
        ids = [f"{code}-{i + 1}" for i in range(len(names))]
        for pid, name, role in zip(ids, names, UNIT_ROLES, strict=True):
            people.append({"id": pid, "name": name, "role": role, "department": code})
        departments.append(
            {
                "code": code,
                "name_zh": zh,
                "name_en": en,
                "specialty": specialty,
                "unit_head": ids[0],
                "deputy_chief": deputy,
                "leader_in_charge": leader,
            }
        )
    for code, zh, en, specialty, deputy, leader, staff in FUNCTIONAL:
        for pid, name, role in staff:
            people.append({"id": pid, "name": name, "role": role, "department": code})
        departments.append(
            {
                "code": code,
                "name_zh": zh,
                "name_en": en,
                "specialty": specialty,
                "unit_head": staff[0][0],
                "deputy_chief": deputy,
                "leader_in_charge": leader,
            }
        )
    for pid, name, role, dept in EXTRA_PEOPLE:
        people.append({"id": pid, "name": name, "role": role, "department": dept})
    people[0]["language"] = "zh"
    people[5]["language"] = "en"
    return {"departments": departments, "people": people}


# -- what gets found ---------------------------------------------------------------------------

FINDINGS: dict[str, list[tuple[str, str]]] = {
    "ZC1": [
        ("工作面顶板破碎，支架初撑力不足", "1301综采工作面"),
        ("煤壁片帮严重，未及时打设护帮板", "1301综采工作面"),
        ("刮板输送机机尾压柱未打牢", "1301运输顺槽"),
        ("采空区悬顶面积超过规定，未采取强制放顶措施", "1301综采工作面"),
    ],
    "JJ1": [
        ("迎头临时支护不到位，存在空顶作业", "2201回风顺槽掘进迎头"),
        ("锚杆托盘未紧贴岩面，锚固力不足", "2201回风顺槽"),
        ("掘进机截割头喷雾不雾化", "2201回风顺槽掘进迎头"),
        ("巷道帮部网片脱落，未及时补网", "2202运输顺槽"),
    ],
    "JD": [
        ("电缆吊挂不规范，有落地现象", "中央变电所"),
        ("防爆电气设备失爆：接线盒螺栓缺失", "+350水平配电点"),
        ("馈电开关漏电保护未按规定试验", "中央变电所"),
        ("带式输送机跑偏保护失效", "主斜井"),
    ],
    "YS": [
        ("斜巷跑车防护装置未处于常闭状态", "副斜井"),
        ("绞车信号不清晰，声光信号不同步", "+350水平车场"),
        ("轨道道岔扳道器损坏", "+350水平运输大巷"),
        ("架空乘人装置托绳轮磨损严重", "副斜井"),
    ],
    "TF": [
        ("局部通风机未实现双风机双电源自动切换", "2201回风顺槽"),
        ("回风巷瓦斯传感器吊挂位置不当", "1301回风顺槽"),
        ("两道风门同时打开，造成风流短路", "+350水平风门"),
        ("巷道积尘超限，未按规定冲尘", "2202运输顺槽"),
    ],
    "FSH": [
        ("探放水钻孔未按设计施工", "2202运输顺槽掘进迎头"),
        ("水仓淤积超过容量三分之一", "-120水平水仓"),
        ("排水泵备用泵无法正常启动", "-120水平泵房"),
        ("防水闸门未按规定进行关闭试验", "-120水平泵房"),
    ],
}
VIOLATIONS = [
    "未佩戴自救器下井",
    "在运行中的带式输送机上行走",
    "违章指挥工人进入空顶区作业",
    "班中脱岗、睡岗",
    "无证操作绞车",
]
PROBLEMS = ["班前会安全交底记录不全", "隐患台账未及时更新", "安全培训签到表缺漏"]
MEASURES = [
    "立即停止作业，补打单体支柱，加强顶板管理",
    "按作业规程补齐安全设施，并由跟班队长现场验收",
    "更换损坏部件，完成保护试验并做好记录",
    "重新吊挂整理，班组长每班检查一次",
    "组织专项培训，对责任人进行安全教育",
]
CONTINGENCY = "整改期间如出现异常立即停止作业、撤出人员，并汇报调度室（电话 8000）"


@dataclass(order=True)
class _Action:
    at: datetime
    seq: int
    run: Callable[[datetime], object] = field(compare=False)


@dataclass
class _Sim:
    system: System
    rng: random.Random
    end: datetime
    queue: list[_Action] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    open_ids: list[UUID] = field(default_factory=list)
    errors: int = 0
    current: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.current = self.end

    def at(self, when: datetime, run: Callable[[datetime], object]) -> None:
        if when < self.end:
            heapq.heappush(self.queue, _Action(when, next(self.counter), run))

    def run(self) -> None:
        """Run every action in time order, with the events recorded at simulated times."""
        app = self.system.app
        real_clock = app.recording_clock
        app.recording_clock = lambda: self.current
        try:
            self._run()
        finally:
            app.recording_clock = real_clock

    def _run(self) -> None:
        next_tick: datetime | None = None
        while self.queue:
            action = heapq.heappop(self.queue)
            if next_tick is None:
                next_tick = action.at.replace(minute=0, second=0, microsecond=0)
            while next_tick <= action.at:
                self.tick(next_tick)
                next_tick += timedelta(hours=1)
            self.current = action.at
            try:
                action.run(action.at)
            except DomainError:
                self.errors += 1  # e.g. a simulated submit after the item was merged
        if next_tick is not None:
            while next_tick < self.end:
                self.tick(next_tick)
                next_tick += timedelta(hours=1)

    def tick(self, now: datetime) -> None:
        self.current = now
        self.system.runner.catch_up()
        self.system.app.tick(now)


def load_demo(
    system: System,
    *,
    seed: int = 7,
    days: int = 60,
    findings: int = 200,
    echo: Callable[[str], Any] = print,
) -> str:
    """Load the demo organisation and simulate ``days`` of history ending now."""
    rng = random.Random(seed)
    now = system.now()
    start = now - timedelta(days=days)
    app = system.app
    sim = _Sim(system, rng, end=now)
    sim.current = start - timedelta(days=1)
    sim.at(sim.current, lambda at: app.load_org(demo_org(), actor="admin", now=at))
    # Most findings spread over the period; a tenth in the last day and a bit, so the
    # office's queue (reported, screened, just noticed) is not empty this morning.
    recent = max(1, findings // 10)
    filing_times = sorted(
        [start + timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(findings - recent)]
        + [now - timedelta(hours=rng.uniform(0.5, 30)) for _ in range(recent)]
    )
    for i, when in enumerate(filing_times):
        sim.at(when, _filer(sim, i))
    plan_demo_cases(
        sim,
        start,
        {unit[0]: sorted({place for _, place in FINDINGS[unit[0]]}) for unit in UNITS},
        [pid for pid, _, _, _ in LEADERS],
        seed,
    )
    plan_demo_training(sim, start, seed)
    echo(f"simulating {days} days of history with {findings} findings ...")
    sim.run()
    system.runner.catch_up()
    digests, acks = demo_notifications(system, seed=seed, now=now)
    tokens = _demo_tokens(system)
    system.runner.catch_up()
    org = app.org()
    lines = [
        "",
        f"demo mine loaded: {len(org.departments)} departments, {len(org.people)} people,"
        f" {findings} findings",
        f"inboxes filled; {digests} daily digest(s) issued, {acks} item(s) acknowledged",
        demo_cases_summary(system),
        demo_training_summary(system),
        "",
    ]
    lines.append("API tokens for demo users (Authorization: Bearer <token>):")
    for pid, name, role, token in tokens:
        lines.append(f"  {pid:<8} {name:<4} {role:<18} {token}")
    lines += ["", "Web logins for demo users (http://127.0.0.1:8000/login, person id + password):"]
    for pid, password in demo_logins(system, DEMO_USERS):
        person = org.people[pid]
        lines.append(f"  {pid:<8} {person['name']:<4} {person['role']:<18} {password}")
    system.runner.catch_up()
    return "\n".join(lines)


#: one demo user per role, the unit roles all from 综采一队 (ZC1)
DEMO_USERS = (
    "ZC1-4",
    "ZC1-3",
    "ZC1-2",
    "ZC1-1",
    "M01",
    "Y01",
    "X01",
    "A01",
    "A02",
    "L02",
    "L05",
    "L01",
    "X04",
)


def _demo_tokens(system: System) -> list[tuple[str, str, str, str]]:
    org = system.app.org()
    chosen: list[tuple[str, str, str, str]] = []
    for pid in DEMO_USERS:
        person = org.people[pid]
        token = system.app.create_token(pid, label="demo", actor="admin", now=system.now())
        chosen.append((pid, person["name"], person["role"], token))
    return chosen


REPORTER_ROLE = {
    "unit_head": "manager",
    "shift_manager": "manager",
    "team_leader": "manager",
    "deputy_chief": "manager",
    "leader": "manager",
    "mine_chief": "manager",
    "safety_supervisor": "safety_supervisor",
    "safety_dept": "inspector",
    "info_office": "inspector",
    "mass_supervisor": "mass_supervisor",
    "youth_monitor": "youth_monitor",
    "worker": "worker",
    "staff": "worker",
}


def _filer(sim: _Sim, i: int, ref: str = "demo") -> Callable[[datetime], None]:
    rng = sim.rng
    app = sim.system.app
    reporters = [p for p in demo_org()["people"] if p["role"] in REPORTER_ROLE]
    unit = rng.choice([u[0] for u in UNITS])
    roll = rng.random()
    if roll < 0.15:
        kind, (description, location) = (
            "violation",
            (rng.choice(VIOLATIONS), rng.choice(FINDINGS[unit])[1]),
        )
    elif roll < 0.22:
        kind, (description, location) = "problem", (rng.choice(PROBLEMS), "地面办公楼")
    else:
        kind, (description, location) = "hazard", rng.choice(FINDINGS[unit])
    reporter = rng.choice(reporters)

    def file(now: datetime) -> None:
        result = app.file_hazard(
            kind=kind,
            description=description,
            location=location,
            reporter=reporter["id"],
            reporter_role=REPORTER_ROLE[reporter["role"]],
            occurred_at=now - timedelta(minutes=rng.randint(5, 90)),
            department=unit if rng.random() < 0.5 else None,
            client_ref=f"{ref}-{i}",
            actor=reporter["id"],
            now=now,
        )
        _plan(sim, result.id, unit, kind, now)

    return file


def _plan(sim: _Sim, hazard_id: UUID, unit: str, kind: str, filed: datetime) -> None:
    """Decide what will happen to a finding, and schedule it."""
    rng = sim.rng
    app = sim.system.app
    office = rng.choice(["X01", "X02"])
    checker = rng.choice(["A01", "A02", "A03"])
    head = f"{unit}-1"
    fate = rng.random()
    screen_at = filed + timedelta(hours=rng.uniform(2, 20))
    if fate < 0.04:
        sim.at(
            screen_at,
            lambda now: app.void(hazard_id, reason="经核实不属于隐患", actor=office, now=now),
        )
        return
    if fate < 0.07 and sim.open_ids:
        candidates = list(sim.open_ids[-20:])

        def merge(now: datetime) -> None:
            for target in reversed(candidates):
                if app.hazard(target).state in OPEN_STATES:
                    app.merge(hazard_id, into=target, actor=office, now=now)
                    return
            app.void(hazard_id, reason="重复登记", actor=office, now=now)

        sim.at(screen_at, merge)
        return
    if fate < 0.17:
        fix_at = filed + timedelta(minutes=rng.uniform(10, 60))
        sim.at(
            fix_at,
            lambda now: app.fix_on_spot(hazard_id, note="现场立即整改完毕", actor=office, now=now),
        )
        sim.at(
            fix_at + timedelta(hours=rng.uniform(4, 30)),
            lambda now: app.recheck(
                hazard_id, passed=True, note="复查合格", actor=checker, now=now
            ),
        )
        return
    sim.open_ids.append(hazard_id)
    grade = "major" if kind == "hazard" and rng.random() < 0.08 else "general"
    sim.at(
        screen_at,
        lambda now: app.screen(hazard_id, grade=grade, department=unit, actor=office, now=now),
    )
    notice_at = screen_at + timedelta(minutes=rng.uniform(20, 120))
    span = app.policy.default_deadline(kind, grade, notice_at) - notice_at

    def notice(now: datetime) -> None:
        app.issue_notice(
            hazard_id,
            responsible_person=head,
            measures=rng.choice(MEASURES),
            funds=Decimal(rng.choice([0, 500, 2000, 5000, 12000])),
            deadline=None,
            contingency=CONTINGENCY,
            actor=office,
            now=now,
        )

    sim.at(notice_at, notice)
    deadline = notice_at + span
    # Recent items are more often still open (late, or not done at all), so the boards
    # show overdue and escalated items today.
    recent = filed > sim.end - timedelta(days=10)
    path = rng.random() * (0.7 if recent else 1.0) + (0.3 if recent else 0.0)
    if path < 0.55:  # on time
        submit_at = notice_at + span * rng.uniform(0.3, 0.95)
    elif path < 0.65:  # asks for more time first
        ask_at = notice_at + span * 0.5
        granted = rng.random() < 0.7
        sim.at(
            ask_at,
            lambda now: app.request_extension(
                hazard_id,
                requested_deadline=deadline + span,
                reason="备件未到货，申请延期",
                actor=head,
                now=now,
            ),
        )
        sim.at(
            ask_at + timedelta(hours=2),
            lambda now: app.decide_extension(
                hazard_id,
                granted=granted,
                note="同意" if granted else "不同意延期",
                actor=office,
                now=now,
            ),
        )
        submit_at = (deadline + span * rng.uniform(0.2, 0.9)) if granted else deadline - span * 0.1
    elif path < 0.92:  # late: the tick will re-notice first
        submit_at = deadline + timedelta(hours=rng.uniform(2, 60))
    elif recent:  # not done at all (yet): escalates
        return
    else:
        submit_at = deadline + timedelta(hours=rng.uniform(30, 100))
    _submit_and_recheck(
        sim, hazard_id, head, checker, submit_at, failures=1 if rng.random() < 0.15 else 0
    )


def _submit_and_recheck(
    sim: _Sim, hazard_id: UUID, head: str, checker: str, submit_at: datetime, failures: int
) -> None:
    rng = sim.rng
    app = sim.system.app
    evidence = [f"整改照片 IMG_{rng.randint(1000, 9999)}.jpg", "整改验收记录"]
    sim.at(
        submit_at,
        lambda now: app.submit(
            hazard_id, evidence=evidence, note="已按要求整改", actor=head, now=now
        ),
    )
    recheck_at = submit_at + timedelta(hours=rng.uniform(2, 24))
    if failures:

        def fail(now: datetime) -> None:
            hazard = app.hazard(hazard_id)
            if hazard.state == S.SUBMITTED:
                app.recheck(
                    hazard_id, passed=False, note="复查不合格：支护仍不到位", actor=checker, now=now
                )
                _submit_and_recheck(
                    sim,
                    hazard_id,
                    head,
                    checker,
                    now + timedelta(hours=rng.uniform(6, 20)),
                    failures - 1,
                )

        sim.at(recheck_at, fail)
    else:
        sim.at(
            recheck_at,
            lambda now: app.recheck(
                hazard_id, passed=True, note="复查合格，同意销号", actor=checker, now=now
            ),
        )
