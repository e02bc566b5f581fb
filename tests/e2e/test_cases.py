"""Accountability cases, site visits and scorecards through HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import httpx

from projections.timefmt import iso
from tests.conftest import ORG, T0
from tests.e2e.conftest import Api
from tests.e2e.test_loop import ok

PLACE = "1301综采工作面"
#: the organisation is loaded at T0 (by the fixture); the incident happens after
AT = T0 + timedelta(hours=30)
INCIDENT = {
    "kind": "violation",
    "description": "违章进入空顶区作业",
    "location": PLACE,
    "department": "CM1",
    "occurred_at": iso(AT),
    "direct_person": "w1",
}


def open_case(client: httpx.Client, **overrides: Any) -> str:
    body = ok(client.post("/api/v1/cases", json={**INCIDENT, **overrides}), 201)
    assert set(body) == {"id", "state", "version"} and body["state"] == "OPENED"
    return str(body["id"])


def test_a_case_from_opening_to_closing(api: Api) -> None:
    api.clock.set(AT + timedelta(hours=1))
    office = api.client(api.token("o1"))
    unit = api.client(api.token("u1"))
    safety = api.client(api.token("a1"))

    visit = {"person": "d1", "location": PLACE, "at": iso(AT - timedelta(hours=5))}
    first = ok(office.post("/api/v1/site-visits", json=visit), 201)
    assert ok(office.post("/api/v1/site-visits", json=visit), 200)["id"] == first["id"]
    outside = {"person": "d2", "location": PLACE, "at": iso(AT - timedelta(hours=24, seconds=1))}
    ok(office.post("/api/v1/site-visits", json=outside), 201)

    cid = open_case(office)
    case = ok(office.get(f"/api/v1/cases/{cid}"))
    roles = {p["person"]: p["role"] for p in case["proposal"]}
    assert roles == {
        "w1": "direct",
        "u1": "unit_head",
        "l1": "leader_in_charge",
        "d1": "on_site_24h",
    }
    assert all(p["basis"] and p["status"] == "proposed" for p in case["proposal"])
    assert not any(g["held"] for g in case["gates"].values())

    refused = office.post(f"/api/v1/cases/{cid}/close")
    assert refused.status_code == 409
    assert refused.json()["error"] == "gates_open"
    assert set(refused.json()["gates"]) == {"cause", "responsibility", "education", "measures"}
    assert refused.json()["open"] == ["cause", "responsibility", "education", "measures"]

    base = f"/api/v1/cases/{cid}"
    ok(office.post(f"{base}/cause", json={"analysis": "未执行敲帮问顶制度，现场管理缺位"}))
    for person in ("w1", "u1", "d1"):
        ok(office.post(f"{base}/responsibility", json={"person": person}))
    ok(office.post(f"{base}/responsibility/l1/remove", json={"reason": "事发时不在班，已尽职"}))
    ok(office.post(f"{base}/penalties", json={"person": "w1", "kind": "fine", "amount": 200}))
    ok(office.post(f"{base}/penalties", json={"person": "d1", "kind": "warning"}))
    ok(
        office.post(
            f"{base}/penalties",
            json={"person": "u1", "kind": "demotion", "amount": None, "veto": True},
        )
    )
    ok(
        office.post(
            f"{base}/education",
            json={"topic": "顶板管理", "held_at": iso(AT), "attendees": ["w1", "u1", "d1"]},
        )
    )
    measure = ok(
        office.post(
            f"{base}/measures",
            json={
                "measures": "补打单体支柱，班组长每班检查",
                "responsible_person": "u1",
                "department": "CM1",
                "deadline": iso(AT + timedelta(days=2)),
            },
        ),
        201,
    )
    hid = measure["hazard_id"]
    assert measure["state"] == "NOTICED" and measure["number"].startswith("WT-")
    item = ok(unit.get(f"/api/v1/hazards/{hid}"))
    assert item["notice"]["responsible_person"] == "u1" and item["department"] == "CM1"

    refused = office.post(f"{base}/close")
    assert refused.status_code == 409
    assert refused.json()["open"] == ["measures"]
    assert measure["number"] in refused.json()["gates"]["measures"]["why"]
    case = ok(office.get(base))
    assert [m["state"] for m in case["measures"]] == ["NOTICED"]
    assert case["gates"]["measures"]["held"] is False and case["closable"] is False
    assert {p["person"]: p["status"] for p in case["proposal"]}["l1"] == "removed"

    stale = office.post(f"{base}/cause", json={"analysis": "x"}, headers={"If-Match": "1"})
    assert stale.status_code == 409 and stale.json()["error"] == "version_conflict"
    blocked_at = api.clock()
    api.clock.advance(hours=30)
    ok(unit.post(f"/api/v1/hazards/{hid}/submit", json={"evidence": ["支柱照片"]}))
    ok(safety.post(f"/api/v1/hazards/{hid}/recheck", json={"passed": True}))
    assert ok(office.get(base))["closable"] is True
    closed = ok(office.post(f"{base}/close"))
    assert closed["state"] == "CLOSED"
    again = office.post(f"{base}/cause", json={"analysis": "x"})
    assert again.status_code == 409
    then = ok(office.get(base, params={"as_of": iso(blocked_at)}))
    assert (then["state"], then["closable"], then["allowed"]) == ("EDUCATED", False, [])
    assert [m["state"] for m in then["measures"]] == ["NOTICED"]
    assert then["gates"]["measures"]["held"] is False and then["gates"]["cause"]["held"] is True
    history = ok(office.get(f"{base}/history"))
    assert history[0]["type"] == "Opened" and history[-1]["type"] == "Closed"
    listed = ok(office.get("/api/v1/cases", params={"hazard": hid}))
    assert [c["id"] for c in listed["items"]] == [cid]

    card = ok(office.get("/api/v1/scorecards", params={"month": "2026-11"}))
    cm1 = next(d for d in card["departments"] if d["department"] == "CM1")
    assert cm1["vetoed"] is True and cm1["cases"] == 1
    assert cm1["vetoed_by"][0]["link"] == f"/api/v1/cases/{cid}"
    assert cm1["vetoed_by"][0]["person"] == "u1"
    people = {p["person"]: p for p in card["people"]}
    assert people["w1"]["violations"] == 1 and people["u1"]["violations"] == 0
    nxt = ok(office.get("/api/v1/scorecards", params={"month": "2026-12"}))
    assert not any(d["vetoed"] for d in nxt["departments"])


def test_who_may_see_and_act_on_a_case(api: Api) -> None:
    api.clock.set(AT + timedelta(hours=1))
    office = api.client(api.token("o1"))
    cid = open_case(office)
    same_unit = api.client(api.token("w1"))
    other_unit = api.client(api.token("w2"))
    auditor = api.client(api.token("au"))
    leader = api.client(api.token("l1"))
    assert same_unit.get(f"/api/v1/cases/{cid}").status_code == 200
    assert ok(same_unit.get(f"/api/v1/cases/{cid}"))["allowed"] == []
    assert other_unit.get(f"/api/v1/cases/{cid}").status_code == 403
    assert [c["id"] for c in ok(other_unit.get("/api/v1/cases"))["items"]] == []
    assert ok(auditor.get(f"/api/v1/cases/{cid}"))["id"] == cid
    assert ok(leader.get("/api/v1/cases"))["items"][0]["id"] == cid
    for client in (same_unit, auditor, leader):
        response = client.post(f"/api/v1/cases/{cid}/cause", json={"analysis": "x"})
        assert response.status_code == 403
        assert response.json()["message"]["zh"]
    assert same_unit.post("/api/v1/cases", json=INCIDENT).status_code == 403
    assert (
        other_unit.post(
            "/api/v1/site-visits", json={"person": "d1", "location": PLACE, "at": iso(T0)}
        ).status_code
        == 403
    )
    board = ok(other_unit.get("/api/v1/scorecards", params={"month": "2026-11"}))
    assert [d["department"] for d in board["departments"]] == ["TF"]


def test_bad_case_input_is_refused_with_422(api: Api) -> None:
    api.clock.set(AT + timedelta(hours=1))
    office = api.client(api.token("o1"))
    cid = open_case(office)
    base = f"/api/v1/cases/{cid}"
    bad: list[tuple[str, Any]] = [
        ("/api/v1/cases", {**INCIDENT, "kind": "accident"}),
        ("/api/v1/cases", {**INCIDENT, "department": "NOPE"}),
        ("/api/v1/cases", {**INCIDENT, "direct_person": "ghost"}),
        ("/api/v1/cases", {**INCIDENT, "occurred_at": iso(AT + timedelta(days=1))}),
        ("/api/v1/cases", {**INCIDENT, "findings": ["00000000-0000-0000-0000-000000000001"]}),
        ("/api/v1/cases", {**INCIDENT, "colour": "red"}),
        (f"{base}/cause", {"analysis": ""}),
        (f"{base}/responsibility", {"person": "c1"}),  # not proposed: needs role and basis
        (f"{base}/responsibility", {"person": "w1", "role": "boss"}),
        (f"{base}/penalties", {"person": "w1", "kind": "fine", "amount": 100}),  # not confirmed
        (f"{base}/penalties", {"person": "w1", "kind": "flogging"}),
        (f"{base}/penalties", {"person": "w1", "kind": "fine", "amount": -1}),
        (f"{base}/education", {"topic": "t", "held_at": iso(T0), "attendees": []}),
        (f"{base}/education", {"topic": "t", "held_at": iso(T0), "attendees": ["ghost"]}),
        (
            f"{base}/measures",
            {
                "measures": "m",
                "responsible_person": "u1",
                "department": "CM1",
                "deadline": iso(AT - timedelta(days=1)),
            },
        ),
        (f"{base}/responsibility/nobody/remove", {"reason": "x"}),
        ("/api/v1/site-visits", {"person": "ghost", "location": PLACE, "at": iso(AT)}),
        ("/api/v1/site-visits", {"person": "d1", "location": PLACE, "at": "yesterday"}),
    ]
    head = api.head()
    for path, body in bad:
        response = office.post(path, json=body)
        assert response.status_code == 422, (path, body, response.text)
        assert response.json()["message"]["zh"] and response.json()["message"]["en"]
    assert api.head() == head, "nothing was recorded"
    for month in ("2026-13", "26-11", "november"):
        assert office.get("/api/v1/scorecards", params={"month": month}).status_code == 422
    assert office.get("/api/v1/cases/00000000-0000-0000-0000-000000000001").status_code == 404


def test_an_org_change_loaded_late_counts_from_when_it_took_effect(api: Api) -> None:
    api.clock.set(AT + timedelta(days=2))
    admin = api.client()
    document = copy.deepcopy(ORG)
    document["departments"][0]["unit_head"] = "s1"  # appointed before the incident
    later = {"effective_at": iso(api.clock() + timedelta(hours=1))}
    assert admin.put("/api/v1/org", json=document, params=later).status_code == 422
    effective = {"effective_at": iso(AT - timedelta(hours=1))}
    ok(admin.put("/api/v1/org", json=document, params=effective))
    cid = open_case(admin)
    roles = {p["person"]: p["role"] for p in ok(admin.get(f"/api/v1/cases/{cid}"))["proposal"]}
    assert roles.get("s1") == "unit_head" and "u1" not in roles
