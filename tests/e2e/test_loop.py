"""The closed loop through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import httpx

from projections.timefmt import iso
from tests.conftest import T0
from tests.e2e.conftest import Api

FINDING = {
    "kind": "hazard",
    "description": "1301回风顺槽顶板离层，局部网兜严重 😟 (roof separation)",
    "location": "1301回风顺槽 K12+30m",
    "reporter": "w1",
    "reporter_role": "worker",
    "occurred_at": iso(T0 - timedelta(minutes=20)),
}


def board_state(client: httpx.Client, hazard_id: str, department: str = "CM1") -> str | None:
    board = client.get(f"/api/v1/departments/{department}/board").json()
    states = {i["id"]: i["state"] for i in board["items"]}
    return states.get(hazard_id)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_whole_loop_through_http(api: Api) -> None:
    worker = api.client(api.token("w1"))
    office = api.client(api.token("o1"))
    unit = api.client(api.token("u1"))
    safety = api.client(api.token("a1"))
    admin = api.client()

    filed = ok(worker.post("/api/v1/hazards", json=FINDING), 201)
    hid = filed["id"]
    assert filed["state"] == "REPORTED" and filed["number"].startswith("YH-20261102-")
    item = ok(worker.get(f"/api/v1/hazards/{hid}"))
    assert item["description"] == FINDING["description"]  # Chinese and emoji round-trip
    assert item["location"] == FINDING["location"]

    api.clock.advance(hours=1)
    ok(office.post(f"/api/v1/hazards/{hid}/screen", json={"grade": "general", "department": "CM1"}))
    assert board_state(unit, hid) == "SCREENED"
    screened_at = api.clock()

    api.clock.advance(hours=1)
    deadline = api.clock() + timedelta(days=3)
    notice = {
        "responsible_person": "u1",
        "measures": "补打锚索，加强支护",
        "funds": 5000,
        "deadline": iso(deadline),
        "contingency": "顶板异常立即撤人",
    }
    ok(office.post(f"/api/v1/hazards/{hid}/notice", json=notice))
    assert board_state(unit, hid) == "NOTICED"
    before_notice = ok(unit.get(f"/api/v1/hazards/{hid}", params={"as_of": iso(screened_at)}))
    assert before_notice["state"] == "SCREENED"

    api.clock.set(deadline + timedelta(hours=1))
    tick = ok(admin.post("/api/v1/tick", json={"now": iso(api.clock())}))
    assert tick["renoticed"] == 1
    item = ok(unit.get(f"/api/v1/hazards/{hid}"))
    assert (item["state"], item["overdue_periods"], item["escalation_level"]) == ("OVERDUE", 1, 1)
    assert board_state(unit, hid) == "OVERDUE"
    history = ok(unit.get(f"/api/v1/hazards/{hid}/history"))
    types = [h["type"] for h in history]
    assert types[-2:] == ["HandlingOpinionIssued", "ReNoticed"]
    renotice = history[-1]["data"]
    assert {"d1", "l1"} <= set(renotice["copies"]) and renotice["level"] == 1
    assert all(h["recorded_at"] and h["occurred_at"] and h["actor"] for h in history)

    again = ok(admin.post("/api/v1/tick", json={"now": iso(api.clock())}))
    assert again["renoticed"] == 0
    assert len(ok(unit.get(f"/api/v1/hazards/{hid}/history"))) == len(history)

    api.clock.advance(hours=2)
    version = ok(unit.get(f"/api/v1/hazards/{hid}"))["version"]
    submitted = ok(
        unit.post(
            f"/api/v1/hazards/{hid}/submit",
            json={"evidence": ["整改照片 IMG_0001.jpg"], "note": "已补打锚索"},
            headers={"If-Match": str(version)},
        )
    )
    assert submitted["state"] == "SUBMITTED" and submitted["version"] == version + 1
    assert board_state(unit, hid) == "SUBMITTED"

    api.clock.advance(hours=3)
    failed = ok(
        safety.post(f"/api/v1/hazards/{hid}/recheck", json={"passed": False, "note": "锚索未张拉"})
    )
    assert failed["state"] == "NOTICED"
    assert board_state(unit, hid) == "NOTICED"

    api.clock.advance(hours=3)
    ok(unit.post(f"/api/v1/hazards/{hid}/submit", json={"evidence": "张拉记录", "note": ""}))
    closed = ok(
        safety.post(f"/api/v1/hazards/{hid}/recheck", json={"passed": True, "note": "合格"})
    )
    assert closed["state"] == "CLOSED"
    assert board_state(unit, hid) is None  # closed items leave the open board
    board = ok(unit.get("/api/v1/departments/CM1/board"))
    assert board["counts"]["CLOSED"] == 1
    final = [h["type"] for h in ok(unit.get(f"/api/v1/hazards/{hid}/history"))]
    assert final[-4:] == ["RecheckFailed", "RectificationSubmitted", "RecheckPassed", "Closed"]


def test_conflicting_commands_one_wins_per_version(api: Api) -> None:
    admin = api.client()
    hid = ok(admin.post("/api/v1/hazards", json=FINDING), 201)["id"]
    version = ok(admin.get(f"/api/v1/hazards/{hid}"))["version"]
    statuses: list[int] = []
    lock = threading.Lock()

    def screen(i: int) -> None:
        with api.client() as client:
            r = client.post(
                f"/api/v1/hazards/{hid}/screen",
                json={"grade": "general", "department": "CM1" if i % 2 else "TF"},
                headers={"If-Match": str(version)},
            )
        with lock:
            statuses.append(r.status_code)
            if r.status_code == 409:
                body = r.json()
                assert body["error"] in ("version_conflict", "illegal_transition")
                assert body["state"] == "SCREENED" and "allowed" in body

    threads = [threading.Thread(target=screen, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 19
    history = ok(admin.get(f"/api/v1/hazards/{hid}/history"))
    assert [h["type"] for h in history] == ["Reported", "Screened"]
    assert [h["version"] for h in history] == [1, 2]


def test_a_repeat_with_the_same_client_ref_returns_the_first(api: Api) -> None:
    client = api.client(api.token("w1"))
    body = {**FINDING, "client_ref": "phone-7f3a-0001"}
    first = ok(client.post("/api/v1/hazards", json=body), 201)
    head = api.head()
    second = ok(client.post("/api/v1/hazards", json=body), 200)
    assert second == first
    assert api.head() == head


def test_illegal_transitions_and_unknown_ids(api: Api) -> None:
    admin = api.client()
    hid = ok(admin.post("/api/v1/hazards", json=FINDING), 201)["id"]
    r = admin.post(f"/api/v1/hazards/{hid}/submit", json={"evidence": ["x"]})
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "illegal_transition" and body["state"] == "REPORTED"
    assert body["allowed"] == ["screen", "fix-on-spot", "void", "merge"]
    assert body["message"]["zh"] and body["message"]["en"]
    r = admin.get("/api/v1/hazards/00000000-0000-0000-0000-000000000001")
    assert r.status_code == 404 and r.json()["message"]["zh"]
    assert admin.get("/api/v1/departments/NOPE/board").status_code == 404
    r = admin.post(
        f"/api/v1/hazards/{hid}/screen",
        json={"grade": "general", "department": "CM1"},
        headers={"If-Match": "7"},
    )
    assert r.status_code == 409 and r.json()["version"] == 1


def test_tick_refuses_a_future_now(api: Api) -> None:
    admin = api.client()
    r = admin.post("/api/v1/tick", json={"now": iso(api.clock() + timedelta(minutes=5))})
    assert r.status_code == 422
    assert ok(admin.post("/api/v1/tick", json={}))["renoticed"] == 0
    assert api.client(api.token("o1")).post("/api/v1/tick", json={}).status_code == 403


def test_authentication_and_department_scope(api: Api) -> None:
    admin = api.client()
    cm1 = ok(admin.post("/api/v1/hazards", json={**FINDING, "department": "CM1"}), 201)["id"]
    tf = ok(admin.post("/api/v1/hazards", json={**FINDING, "department": "TF"}), 201)["id"]
    assert api.client(None).get("/api/v1/hazards").status_code == 401
    assert api.client("sl_nope_nope").get("/api/v1/hazards").status_code == 401

    token = api.token("u2")  # head of TF
    tf_head = api.client(token)
    ids = {i["id"] for i in ok(tf_head.get("/api/v1/hazards"))["items"]}
    assert ids == {tf}
    assert tf_head.get(f"/api/v1/hazards/{cm1}").status_code == 403
    assert tf_head.get(f"/api/v1/hazards/{cm1}/history").status_code == 403
    assert tf_head.get("/api/v1/departments/CM1/board").status_code == 403
    assert tf_head.get("/api/v1/departments/TF/board").status_code == 200
    r = tf_head.post(f"/api/v1/hazards/{tf}/screen", json={"grade": "general", "department": "TF"})
    assert r.status_code == 403  # only the office screens
    auditor = api.client(api.token("au"))
    assert len(ok(auditor.get("/api/v1/hazards"))["items"]) == 2
    assert auditor.post("/api/v1/hazards", json={**FINDING, "reporter": "au"}).status_code == 403
    worker = api.client(api.token("w1"))
    assert worker.post("/api/v1/hazards", json={**FINDING, "reporter": "w2"}).status_code == 403

    api.system.app.revoke_token(token, actor="admin", reason="test", now=api.clock())
    assert tf_head.get("/api/v1/hazards").status_code == 401


def test_org_round_trips_and_records_only_differences(api: Api) -> None:
    admin = api.client()
    org = ok(admin.get("/api/v1/org"))
    assert {d["code"] for d in org["departments"]} >= {"CM1", "TF"}
    version = org["version"]
    again = ok(admin.put("/api/v1/org", json={k: org[k] for k in ("departments", "people")}))
    assert again == {"changes": 0, "version": version}
    yaml_doc = (
        "departments:\n  - {code: CM1, name_zh: 综采一队}\n"
        "people:\n  - {id: w1, name: 刘小军, role: worker, department: CM1}\n"
    )
    loaded = ok(
        admin.put(
            "/api/v1/org", content=yaml_doc.encode(), headers={"Content-Type": "application/yaml"}
        )
    )
    assert loaded["changes"] > 0
    now = ok(admin.get("/api/v1/org"))
    assert [d["name_zh"] for d in now["departments"]] == ["综采一队"]
    assert api.client(api.token("w1")).put("/api/v1/org", json=now).status_code == 403


def test_health_metrics_and_docs(api: Api) -> None:
    client = api.client(None)
    health = ok(client.get("/healthz"))
    assert health["status"] == "ok" and set(health["projections"]) >= {
        "boards",
        "deadlines",
        "timeline",
        "site_visits",
        "cases",
        "scorecards",
        "audit_chain",
        "photos",
    }
    api.client().get("/api/v1/hazards/00000000-0000-0000-0000-000000000001")
    metrics = client.get("/metrics")
    # requests are counted by route template, never by raw path (ids stay out of labels)
    assert 'route="/api/v1/hazards/{hazard_id}",status="404"' in metrics.text
    assert metrics.status_code == 200 and "safeloop_http_requests" in metrics.text
    assert "safeloop_projection_lag" in metrics.text
    assert client.get("/docs").status_code == 200
    schema = ok(client.get("/openapi.json"))
    assert "/api/v1/hazards/{hazard_id}/notice" in schema["paths"]
    assert "/api/v1/cases/{case_id}/close" in schema["paths"]
    assert "/api/v1/scorecards" in schema["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "综采一队" in page.text
