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
        raise AssertionError(command)


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
    for reporter, department, state in plan:
        body = {**FINDING, "reporter": reporter}
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
        ]
        return known + [("POST", f"/api/v1/hazards/{{hazard_id}}/{c}") for c in COMMAND_BODIES]

    def item(self, hid: UUID) -> Hazard:
        return self.api.system.app.hazard(hid)

    def one(self, caller: Caller, *, revoked: bool) -> None:
        kind = self.rng.choice(
            ["file", "list", "get", "history", "board", "org", "org-put", "tick"] + ["command"] * 6
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
        else:
            # mostly a command the item's state allows, so that a wrong "yes" would show
            allowed = item.allowed_commands(self.api.clock())
            pool = allowed if allowed and self.rng.random() < 0.7 else sorted(COMMAND_BODIES)
            command = self.rng.choice(pool)
            body = self.body(command, hid)
            r = c.post(f"/api/v1/hazards/{hid}/{command}", json=body)
            may = caller.may(command, item)
        self.check(caller, kind, r, may=may, revoked=revoked, head=head)

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
        r = caller.client.request(method, concrete, json={} if method != "GET" else None)
        assert r.status_code < 500, (method, concrete, r.text[:300])
        self.no_leak(caller, r)
