"""A randomized probe (fixed seed) of every JSON endpoint as every role: no read or write
outside the caller's role and department, checked against a spec written here (the README's
"who may do what"), not against the code's own tables. Revoked tokens and transfers take
effect on the next request."""

from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx

from domain.hazard import Hazard
from projections.timefmt import iso
from tests.conftest import ORG
from tests.e2e.conftest import Api
from tests.e2e.test_loop import FINDING

SEED = 20261125
REQUESTS = 1000

SEE_ALL = {
    "admin",
    "info_office",
    "safety_dept",
    "safety_supervisor",
    "deputy_chief",
    "leader",
    "mine_chief",
    "auditor",
}
UNIT_ACTORS = {"unit_head", "staff", "team_leader", "shift_manager"}
OFFICE = {"admin", "info_office"}
RECHECKERS = {"admin", "safety_dept", "safety_supervisor"}
#: who keeps training records, certificates and checklist templates for every unit
KEEPERS = {"admin", "info_office", "safety_dept"}
RESPONDERS = {"info_office", "safety_dept", "safety_supervisor"}
FACES = {"CM1": "1301综采工作面", "TF": "+350水平主要通风机房"}
TEMPLATE = {
    "code": "probe",
    "name": "班前隐患辨识",
    "work_face_type": "longwall",
    "items": ["支架初撑力", "瓦斯浓度"],
    "work_faces": [{"code": face, "department": code} for code, face in FACES.items()],
}

PEOPLE = [
    {"id": "ss1", "name": "韩志远", "role": "safety_supervisor", "department": "AJC"},
    {"id": "tl1", "name": "马永强", "role": "team_leader", "department": "CM1"},
    {"id": "sm2", "name": "郭海峰", "role": "shift_manager", "department": "TF"},
    {"id": "s2", "name": "周丽", "role": "staff", "department": "TF"},
    {"id": "y2", "name": "孙晓东", "role": "youth_monitor", "department": "TF"},
]


@dataclass
class Caller:
    person: str
    role: str
    department: str | None
    client: httpx.Client

    def sees(self, item: Hazard) -> bool:
        return (
            self.role in SEE_ALL
            or (item.department is not None and item.department == self.department)
            or item.reporter == self.person
        )

    def may(self, command: str, item: Hazard) -> bool:
        """The spec: who may run which command (state aside)."""
        if not self.sees(item):
            return False
        if self.role == "admin":
            return True
        if command in ("screen", "void", "merge", "notice", "extension/decision"):
            return self.role == "info_office"
        if command == "fix-on-spot":
            return self.role in {"info_office", "safety_dept", "safety_supervisor"} or (
                item.reporter == self.person
            )
        if command == "recheck":
            return self.role in RECHECKERS
        if command in ("extension", "submit"):
            return self.role in UNIT_ACTORS and item.department == self.department
        if command == "respond":
            return self.role in RESPONDERS or (
                self.role in UNIT_ACTORS and item.department == self.department
            )
        raise AssertionError(command)

    def keeps_training_for(self, department: str | None) -> bool:
        return self.role in KEEPERS or (
            self.role in UNIT_ACTORS and department is not None and department == self.department
        )

    def sees_unit(self, code: str | None) -> bool:
        """A unit's views (board, certificates, checklist runs); None: every unit's."""
        if self.role in SEE_ALL:
            return True
        return self.department is not None and code in (None, self.department)


def test_randomized_access_probe(api: Api) -> None:
    """On both stores: department scopes are read-model queries, revocations must hold at once."""
    rng = random.Random(SEED)
    org = copy.deepcopy(ORG)
    org["people"] += PEOPLE
    admin = api.client()
    assert admin.put("/api/v1/org", json=org).status_code == 200
    callers = {"admin": Caller("admin", "admin", None, admin)}
    for person in org["people"]:
        token = api.token(person["id"])
        callers[person["id"]] = Caller(
            person["id"], person["role"], person.get("department"), api.client(token)
        )
    items = seed_items(api, admin)
    app = api.system.app
    probe = Probe(api, rng, items)

    schema = admin.get("/openapi.json").json()
    operations = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        if path.startswith("/api/v1")
        for method in ops
    }
    unknown = operations - set(probe.known())
    anonymous = api.client(None)
    for method, path in sorted(operations):
        concrete = path.replace("{hazard_id}", str(items[0])).replace("{code}", "CM1")
        concrete = concrete.replace("{run_id}", str(items[0]))
        r = anonymous.request(method, concrete, json={})
        assert r.status_code == 401, (method, path, r.status_code)

    revoked: set[str] = set()
    for n in range(REQUESTS):
        if n == REQUESTS // 3:  # a transfer: w2 moves from TF to CM1, at once
            moved = copy.deepcopy(org)
            for person in moved["people"]:
                if person["id"] == "w2":
                    person["department"] = "CM1"
            assert admin.put("/api/v1/org", json=moved).status_code == 200
            callers["w2"].department = "CM1"
        if n == REQUESTS // 2:  # revocations: the very next request is refused
            for person in ("u2", "o1"):
                token = callers[person].client.headers["Authorization"].split()[1]
                app.revoke_token(token, actor="admin", reason="probe", now=api.clock())
                revoked.add(person)
        caller = callers[rng.choice(sorted(callers))]
        probe.one(caller, revoked=caller.person in revoked)
        if unknown:  # endpoints this spec does not know yet: no 5xx, no leak
            probe.generic(caller, *rng.choice(sorted(unknown)))
    assert probe.counts["allowed"] > 50 and probe.counts["refused"] > 50, probe.counts


def seed_items(api: Api, admin: httpx.Client) -> list[UUID]:
    """Items in both units, in several states, filed by different people."""
    ids: list[UUID] = []
    tokens = {p: api.client(api.token(p)) for p in ("w1", "w2", "m1")}
    deadline = iso(api.clock() + timedelta(days=2))
    assert admin.post("/api/v1/checklist-templates", json=TEMPLATE).status_code == 201
    plan = [
        ("w1", "CM1", "noticed"),
        ("w1", "TF", "screened"),  # filed by a CM1 worker, assigned to TF
        ("w2", "TF", "noticed"),
        ("w2", None, "reported"),
        ("m1", "CM1", "submitted"),
        ("w1", None, "reported"),
        ("w2", "CM1", "noticed"),
        ("m1", "TF", "submitted"),
    ]
    for n, (reporter, department, state) in enumerate(plan):
        body = {**FINDING, "reporter": reporter, "urgent": n % 3 == 0}
        hid = tokens[reporter].post("/api/v1/hazards", json=body).json()["id"]
        ids.append(UUID(hid))
        if department is None:
            continue
        admin.post(
            f"/api/v1/hazards/{hid}/screen", json={"grade": "general", "department": department}
        )
        if state in ("noticed", "submitted"):
            admin.post(f"/api/v1/hazards/{hid}/notice", json={**NOTICE, "deadline": deadline})
        if state == "submitted":
            admin.post(f"/api/v1/hazards/{hid}/submit", json={"evidence": ["照片"]})
    return ids


NOTICE = {"responsible_person": "u1", "measures": "补打锚索", "funds": 0, "contingency": "撤人"}
COMMAND_BODIES: dict[str, list[dict[str, Any]]] = {
    "screen": [{"grade": "general", "department": "CM1"}, {"grade": "major", "department": "TF"}],
    "fix-on-spot": [{"note": "现场处理"}],
    "void": [{"reason": "误报"}],
    "merge": [],  # filled with a target id
    "notice": [NOTICE],
    "extension": [],  # filled with a later deadline
    "extension/decision": [{"granted": True, "note": ""}, {"granted": False, "note": "不批"}],
    "submit": [{"evidence": ["整改照片"]}],
    "recheck": [{"passed": False, "note": "不合格"}, {"passed": True, "note": "合格"}],
    "respond": [{"step": "acknowledged", "note": "已接警"}, {"step": "first_measure"}],
}


TRAINING_KINDS = {
    "certificate",
    "certificates",
    "session",
    "template",
    "templates",
    "run",
    "runs",
    "missing",
    "run-get",
}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: fields that link one item to another (merged duplicates)
LINKS = {"duplicates", "merged_into", "duplicate", "duplicate_number", "into", "into_number"}


def without_links(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_links(v) for k, v in value.items() if k not in LINKS}
    if isinstance(value, list):
        return [without_links(v) for v in value]
    return value


class Probe:
    def __init__(self, api: Api, rng: random.Random, items: list[UUID]) -> None:
        self.api = api
        self.rng = rng
        self.items = items
        self.counts = {"allowed": 0, "refused": 0}
        self.ids = {str(i) for i in items}
        self.runs: list[UUID] = []

    def known(self) -> list[tuple[str, str]]:
        known = [
            ("POST", "/api/v1/hazards"),
            ("GET", "/api/v1/hazards"),
            ("GET", "/api/v1/hazards/{hazard_id}"),
            ("GET", "/api/v1/hazards/{hazard_id}/history"),
            ("GET", "/api/v1/departments/{code}/board"),
            ("GET", "/api/v1/org"),
            ("PUT", "/api/v1/org"),
            ("POST", "/api/v1/tick"),
            ("POST", "/api/v1/certificates"),
            ("GET", "/api/v1/departments/{code}/certificates"),
            ("POST", "/api/v1/training-sessions"),
            ("POST", "/api/v1/checklist-templates"),
            ("GET", "/api/v1/checklist-templates"),
            ("GET", "/api/v1/checklist-templates/{code}"),
            ("POST", "/api/v1/checklist-runs"),
            ("GET", "/api/v1/checklist-runs"),
            ("GET", "/api/v1/checklist-runs/missing"),
            ("GET", "/api/v1/checklist-runs/{run_id}"),
        ]
        return known + [("POST", f"/api/v1/hazards/{{hazard_id}}/{c}") for c in COMMAND_BODIES]

    def item(self, hid: UUID) -> Hazard:
        return self.api.system.app.hazard(hid)

    def one(self, caller: Caller, *, revoked: bool) -> None:
        kind = self.rng.choice(
            ["file", "list", "get", "history", "board", "org", "org-put", "tick"]
            + ["command"] * 6
            + ["certificate", "certificates", "session", "template", "templates"]
            + ["run", "run", "runs", "missing", "run-get"]
        )
        head = self.api.head()
        hid = self.rng.choice(self.items)
        item = self.item(hid)
        c = caller.client
        if kind == "file":
            reporter = self.rng.choice([caller.person, "w1", "w2"])
            r = c.post("/api/v1/hazards", json={**FINDING, "reporter": reporter})
            may = caller.role != "auditor" and (reporter == caller.person or caller.role in OFFICE)
            if r.status_code == 201:
                self.items.append(UUID(r.json()["id"]))
                self.ids.add(r.json()["id"])
        elif kind == "list":
            params = self.rng.choice([{}, {"department": "CM1"}, {"department": "TF"}])
            r = c.get("/api/v1/hazards", params=params)
            may = True
            if r.status_code == 200:
                for listed in r.json()["items"]:
                    assert caller.sees(self.item(UUID(listed["id"]))), (caller, listed)
        elif kind in ("get", "history"):
            suffix = "/history" if kind == "history" else ""
            r = c.get(f"/api/v1/hazards/{hid}{suffix}")
            may = caller.sees(item)
        elif kind == "board":
            code = self.rng.choice(["CM1", "TF", "XXB"])
            r = c.get(f"/api/v1/departments/{code}/board")
            may = caller.role in SEE_ALL or caller.department == code
            if r.status_code == 200:
                assert all(i["id"] in self.ids for i in r.json()["items"])
                for listed in r.json()["items"]:
                    assert self.item(UUID(listed["id"])).department == code
        elif kind == "org":
            r = c.get("/api/v1/org")
            may = True
        elif kind == "org-put":
            # the current document (for the admin, a change of nothing); others must be refused
            document = self.api.system.app.org().document()
            r = c.put("/api/v1/org", json=document)
            may = caller.role == "admin"
        elif kind == "tick":
            r = c.post("/api/v1/tick", json={})
            may = caller.role == "admin"
        elif kind in TRAINING_KINDS:
            r, may = self.training(caller, kind)
        else:
            # mostly a command the item's state allows, so that a wrong "yes" would show
            allowed = item.allowed_commands(self.api.clock())
            pool = allowed if allowed and self.rng.random() < 0.7 else sorted(COMMAND_BODIES)
            command = self.rng.choice(pool)
            body = self.body(command, hid)
            r = c.post(f"/api/v1/hazards/{hid}/{command}", json=body)
            may = caller.may(command, item)
        self.check(caller, kind, r, may=may, revoked=revoked, head=head)

    def training(self, caller: Caller, kind: str) -> tuple[httpx.Response, bool]:
        """Training, certificates and pre-shift checklists, against the spec above."""
        c = caller.client
        code = self.rng.choice(["CM1", "TF"])
        now = self.api.clock()
        if kind == "certificate":
            person = self.rng.choice(["w1", "w2", "s2", "tl1", "u1"])
            held_by = (self.api.system.app.org().person(person) or {}).get("department")
            body = {
                "person": person,
                "type": self.rng.choice(["电工作业操作证", "瓦斯检查工"]),
                "number": f"N-{self.rng.randrange(1000)}",
                "issued_at": iso(now - timedelta(days=400)),
                "expires_at": iso(now + timedelta(days=self.rng.choice([-3, 9, 400]))),
            }
            return c.post("/api/v1/certificates", json=body), caller.keeps_training_for(held_by)
        if kind == "certificates":
            code = self.rng.choice(["CM1", "TF", "XXB"])
            r = c.get(f"/api/v1/departments/{code}/certificates")
            return r, caller.sees_unit(code)
        if kind == "session":
            department = self.rng.choice(["CM1", "TF", None])
            body = {
                "level": self.rng.choice(["mine", "unit", "team", "special"]),
                "topic": "顶板管理",
                "department": department,
                "held_at": iso(now - timedelta(hours=1)),
                "attendees": [{"person": "w1", "score": 88, "passed": True}],
            }
            r = c.post("/api/v1/training-sessions", json=body)
            return r, caller.keeps_training_for(department)
        if kind == "template":
            r = c.post("/api/v1/checklist-templates", json=TEMPLATE)
            return r, caller.role in KEEPERS
        if kind == "templates":
            path = self.rng.choice(
                ["/api/v1/checklist-templates", "/api/v1/checklist-templates/probe"]
            )
            return c.get(path), True
        if kind == "run":
            shift = now + timedelta(hours=8 * self.rng.randrange(-3, 3))
            body = {
                "template": "probe",
                "work_face": FACES[code],
                "department": code,
                "shift_start": iso(shift.replace(minute=0, second=0, microsecond=0)),
                "team_leader": "tl1",
                "lines": [
                    {"item": 1, "ok": self.rng.random() < 0.5, "note": "初撑力不足"},
                    {"item": 2, "ok": True},
                ],
            }
            r = c.post("/api/v1/checklist-runs", json=body)
            may = caller.role in OFFICE or (
                caller.role in UNIT_ACTORS and caller.department == code
            )
            if r.status_code in (200, 201):
                self.runs.append(UUID(r.json()["id"]))
                for hid in r.json()["findings"]:
                    if hid not in self.ids:
                        self.items.append(UUID(hid))
                        self.ids.add(hid)
            return r, may
        if kind in ("runs", "missing"):
            department = self.rng.choice(["CM1", "TF", None])
            path = "/api/v1/checklist-runs" + ("/missing" if kind == "missing" else "")
            r = c.get(path, params={"department": department} if department else {})
            if r.status_code == 200:
                for row in r.json():
                    assert caller.sees_unit(row["department"]), (caller, row)
            return r, caller.sees_unit(department)
        # run-get
        if not self.runs:
            return c.get("/api/v1/checklist-runs/missing"), caller.sees_unit(None)
        run_id = self.rng.choice(self.runs)
        run = self.api.system.app.checklist_run(run_id)
        return c.get(f"/api/v1/checklist-runs/{run_id}"), caller.sees_unit(run.department)

    def body(self, command: str, hid: UUID) -> dict[str, Any]:
        if command == "merge":
            return {"into": str(self.rng.choice([i for i in self.items if i != hid]))}
        if command == "extension":
            later = self.api.clock() + timedelta(days=self.rng.choice([5, 9]))
            return {"requested_deadline": iso(later), "reason": "材料未到"}
        body = dict(self.rng.choice(COMMAND_BODIES[command]))
        if command == "notice":
            body["deadline"] = iso(self.api.clock() + timedelta(days=2))
        return body

    def check(
        self, caller: Caller, kind: str, r: httpx.Response, *, may: bool, revoked: bool, head: int
    ) -> None:
        where = (
            caller.person,
            caller.role,
            caller.department,
            kind,
            r.request.method,
            str(r.request.url),
            r.status_code,
            r.text[:300],
        )
        assert r.status_code < 500, where
        if revoked:
            assert r.status_code == 401, where
            assert self.api.head() == head, where
            return
        if may:
            assert r.status_code not in (401, 403), where
            self.counts["allowed"] += 1
        else:
            assert r.status_code in (403, 404), where
            assert self.api.head() == head, ("a refused request recorded something", where)
            self.counts["refused"] += 1
        self.no_leak(caller, r)

    def no_leak(self, caller: Caller, r: httpx.Response) -> None:
        """No id of an item the caller may not see appears in any answer to them (a merge
        link names the other item, and shows nothing of it: that is allowed)."""
        if caller.role in SEE_ALL:
            return
        try:
            text = json.dumps(without_links(r.json()))
        except ValueError:
            text = r.text
        for found in set(UUID_RE.findall(text)):
            if found in self.ids:
                assert caller.sees(self.item(UUID(found))), (caller.person, r.request.url, found)

    def generic(self, caller: Caller, method: str, path: str) -> None:
        """An endpoint this spec does not know: no 5xx, and no leak of unseen items."""
        concrete = path.replace("{hazard_id}", str(self.rng.choice(self.items)))
        concrete = concrete.replace("{code}", self.rng.choice(["CM1", "TF"]))
        concrete = concrete.replace("{run_id}", str(self.rng.choice(self.runs or self.items)))
        r = caller.client.request(method, concrete, json={} if method != "GET" else None)
        assert r.status_code < 500, (method, concrete, r.text[:300])
        self.no_leak(caller, r)
