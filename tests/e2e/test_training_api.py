"""The training, certificate, checklist and urgent-path endpoints through HTTP (field names
are the contract)."""

from __future__ import annotations

from datetime import timedelta

from projections.timefmt import iso
from tests.conftest import T0
from tests.e2e.conftest import Api
from tests.e2e.test_loop import FINDING

FACE = "1301综采工作面"
TEMPLATE = {
    "code": "longwall",
    "name": "综采工作面班前隐患辨识",
    "work_face_type": "longwall",
    "items": ["支架初撑力", "瓦斯浓度", "煤壁片帮"],
    "work_faces": [{"code": FACE, "department": "CM1"}],
}


def test_certificates_due_and_lapsed_per_department(api: Api) -> None:
    admin = api.client()
    body = {
        "person": "w1",
        "type": "电工作业操作证",
        "number": "T-001",
        "issued_at": iso(T0 - timedelta(days=700)),
        "expires_at": iso(T0 + timedelta(days=10)),
    }
    r = admin.post("/api/v1/certificates", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "电工作业操作证"
    assert admin.post("/api/v1/certificates", json=body).status_code == 200
    lapsed = {**body, "person": "s1", "expires_at": iso(T0 - timedelta(days=1))}
    assert admin.post("/api/v1/certificates", json=lapsed).status_code == 201
    later = {**body, "person": "u1", "expires_at": iso(T0 + timedelta(days=400))}
    assert admin.post("/api/v1/certificates", json=later).status_code == 201
    view = admin.get("/api/v1/departments/CM1/certificates").json()
    assert [c["person"] for c in view["due"]] == ["w1"]
    assert [c["person"] for c in view["lapsed"]] == ["s1"]
    # the unit's own people see it; another unit's do not, nor may they record for CM1
    u2 = api.client(api.token("u2"))
    assert u2.get("/api/v1/departments/CM1/certificates").status_code == 403
    assert u2.post("/api/v1/certificates", json=body).status_code == 403
    assert api.client(api.token("u1")).get("/api/v1/departments/CM1/certificates").is_success
    bad = admin.post(
        "/api/v1/certificates", json={**body, "expires_at": iso(T0 - timedelta(days=800))}
    )
    assert bad.status_code == 422
    assert bad.json()["message"]["zh"]
    session = {
        "level": "team",
        "topic": "顶板管理",
        "department": "CM1",
        "held_at": iso(T0 - timedelta(hours=2)),
        "attendees": [{"person": "w1", "score": 90, "passed": True}, {"person": "s1"}],
    }
    assert admin.post("/api/v1/training-sessions", json=session).status_code == 201
    view = admin.get("/api/v1/departments/CM1/certificates").json()
    assert {t["person"] for t in view["trained_this_month"]} == {"w1", "s1"}


def test_a_checklist_run_with_two_not_ok_lines_files_two_linked_findings(api: Api) -> None:
    admin = api.client()
    assert admin.post("/api/v1/checklist-templates", json=TEMPLATE).status_code == 201
    assert admin.post("/api/v1/checklist-templates", json=TEMPLATE).status_code == 200
    run = {
        "template": "longwall",
        "work_face": FACE,
        "department": "CM1",
        "shift_start": iso(T0 + timedelta(hours=8)),
        "team_leader": "s1",
        "lines": [
            {"item": "支架初撑力", "ok": False, "note": "3号支架初撑力不足"},
            {"item": 2, "ok": True, "note": ""},
            {"item": "煤壁片帮", "ok": False, "note": "机尾片帮 0.5 m"},
        ],
    }
    s1 = api.client(api.token("s1"))
    r = s1.post("/api/v1/checklist-runs", json=run)
    assert r.status_code == 201, r.text
    findings = r.json()["findings"]
    assert len(findings) == 2
    for hid in findings:
        item = admin.get(f"/api/v1/hazards/{hid}").json()
        assert item["sources"][0] == {
            "type": "checklist_run",
            "id": r.json()["id"],
            "line": item["sources"][0]["line"],
        }
        assert item["department"] == "CM1"
    again = s1.post("/api/v1/checklist-runs", json=run)
    assert again.status_code == 200
    assert again.json()["findings"] == findings
    assert api.client(api.token("u2")).post("/api/v1/checklist-runs", json=run).status_code == 403
    missing = admin.get("/api/v1/checklist-runs/missing").json()
    assert [m["work_face"] for m in missing] == [FACE, FACE]  # the night and morning shifts
    board = admin.get("/api/v1/departments/CM1/board").json()
    assert board["missing_checklists"][0]["work_face"] == FACE


def test_an_urgent_finding_shows_its_timers_and_escalates_once(api: Api) -> None:
    admin = api.client()
    r = admin.post("/api/v1/hazards", json={**FINDING, "department": "CM1", "urgent": True})
    assert r.status_code == 201, r.text
    hid = r.json()["id"]
    item = admin.get(f"/api/v1/hazards/{hid}").json()
    assert [t["name"] for t in item["timers"]] == ["acknowledged", "responsible", "first_measure"]
    assert item["timers"][0]["due"] == iso(T0 + timedelta(minutes=5))
    assert all(t["met_at"] is None for t in item["timers"])
    api.clock.advance(minutes=7)
    assert admin.post("/api/v1/tick", json={}).json()["timers_escalated"] == 1
    assert admin.post("/api/v1/tick", json={}).json()["timers_escalated"] == 0
    o1 = api.client(api.token("o1"))
    done = o1.post(
        f"/api/v1/hazards/{hid}/respond", json={"step": "acknowledged", "note": "已接警"}
    )
    assert done.status_code == 200, done.text
    item = admin.get(f"/api/v1/hazards/{hid}").json()
    assert item["timers"][0]["met_at"] == iso(T0 + timedelta(minutes=7))
    assert item["timers"][0]["escalated"] is True
    bad = o1.post(f"/api/v1/hazards/{hid}/respond", json={"step": "nonsense"})
    assert bad.status_code == 422
    card = admin.get("/api/v1/scorecards", params={"month": "2026-11"}).json()
    cm1 = next(d for d in card["departments"] if d["department"] == "CM1")
    assert cm1["response"]["acknowledged"]["avg_minutes"] == 7.0
    assert cm1["response"]["acknowledged"]["escalated"] == 1
