"""Inboxes, acknowledgements, the digest and the outbox through HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from jobs.digest import issue_digest
from projections.timefmt import iso
from tests.conftest import T0
from tests.e2e.conftest import Api
from tests.e2e.test_loop import FINDING, ok


def test_a_leader_acknowledges_an_escalation_and_as_of_shows_what_he_knew(api: Api) -> None:
    office, leader = api.client(api.token("o1")), api.client(api.token("l1"))
    worker, auditor, admin = api.client(api.token("w1")), api.client(api.token("au")), api.client()
    hid = ok(
        office.post(
            "/api/v1/hazards", json={**FINDING, "reporter": "o1", "reporter_role": "inspector"}
        ),
        201,
    )["id"]
    ok(office.post(f"/api/v1/hazards/{hid}/screen", json={"grade": "general", "department": "CM1"}))
    deadline = T0 + timedelta(hours=3)
    notice = {
        "responsible_person": "u1",
        "measures": "补打锚索",
        "funds": 0,
        "deadline": iso(deadline),
        "contingency": "撤人",
    }
    ok(office.post(f"/api/v1/hazards/{hid}/notice", json=notice))
    api.clock.set(deadline + timedelta(minutes=1))
    assert ok(admin.post("/api/v1/tick", json={}))["renoticed"] == 1
    escalated_at = api.clock()

    mine = ok(leader.get("/api/v1/inbox"))
    assert [i["kind"] for i in mine["items"]] == ["escalation", "copy"]
    item = mine["items"][0]
    assert item["hazard_id"] == hid and not item["read"] and not item["acknowledged"]
    assert "【逾期督办·1级】" in item["title"] and item["number"].startswith("YH-")

    api.clock.advance(hours=2)
    acked = ok(leader.post(f"/api/v1/inbox/{item['id']}/ack"))
    assert acked["acknowledged"] and acked["changed"]
    assert acked["acknowledged_at"] == iso(api.clock())
    api.clock.advance(minutes=5)
    again = ok(leader.post(f"/api/v1/inbox/{item['id']}/ack"))
    assert not again["changed"] and again["acknowledged_at"] == acked["acknowledged_at"]

    url = "/api/v1/people/l1/inbox"
    before = ok(auditor.get(url, params={"as_of": iso(escalated_at + timedelta(hours=1))}))
    assert [(i["kind"], i["acknowledged"]) for i in before["items"]] == [
        ("escalation", False),
        ("copy", False),
    ]
    after = ok(auditor.get(url, params={"as_of": acked["acknowledged_at"]}))
    assert after["items"][0]["acknowledged_at"] == acked["acknowledged_at"]
    earlier = ok(auditor.get(url, params={"as_of": iso(T0 - timedelta(hours=1))}))
    assert earlier["items"] == []

    assert worker.get(url).status_code == 403  # only one's own inbox
    assert ok(office.get(url))["person"] == "l1"  # the office may look
    denied = worker.post(f"/api/v1/inbox/{item['id']}/ack")
    assert denied.status_code == 403 and denied.json()["message"]["zh"]
    assert admin.post(f"/api/v1/inbox/{item['id']}/ack").status_code == 403
    missing = leader.post("/api/v1/inbox/00000000-0000-0000-0000-000000000001/ack")
    assert missing.status_code == 404 and missing.json()["message"]["zh"]
    assert auditor.get("/api/v1/people/nobody/inbox").status_code == 404
    unread = ok(leader.get("/api/v1/inbox", params={"unread": "true"}))
    assert [i["kind"] for i in unread["items"]] == ["copy"]


def test_digest_and_outbox_through_http(api: Api) -> None:
    office, worker, admin = api.client(api.token("o1")), api.client(api.token("w1")), api.client()
    ok(worker.post("/api/v1/hazards", json=FINDING), 201)
    digest = ok(office.get("/api/v1/digest", params={"date": "2026-11-02"}))
    assert digest["new_findings"]["total"] == 1 and digest["timezone"] == "Asia/Shanghai"
    assert digest["from"] == "2026-11-01T16:00:00.000000Z" and digest["issued"] is None
    assert set(digest) >= {"closed", "overdue", "overdue_longest", "repeats"}
    assert (
        ok(office.get("/api/v1/digest", params={"date": "2026-11-01"}))["new_findings"]["total"]
        == 0
    )
    assert worker.get("/api/v1/digest").status_code == 403
    for date in ("2026-13-01", "9999-12-31", "0001-01-01"):  # the last two: no 500
        bad = office.get("/api/v1/digest", params={"date": date})
        assert bad.status_code == 422 and bad.json()["message"]["zh"], date

    status = ok(admin.get("/api/v1/outbox"))
    assert status == {"counts": {}, "items": []}  # no channel configured: in-app only
    assert worker.get("/api/v1/outbox").status_code == 403
    assert office.post("/api/v1/outbox/retry", json={}).status_code == 403
    assert ok(admin.post("/api/v1/outbox/retry", json={"keys": ["x|y|email"]})) == {"retried": 0}


def test_an_inbox_shows_only_items_the_person_may_see(api: Api) -> None:
    office = api.client(api.token("o1"))
    hid = ok(
        office.post(
            "/api/v1/hazards", json={**FINDING, "reporter": "o1", "reporter_role": "inspector"}
        ),
        201,
    )["id"]
    ok(office.post(f"/api/v1/hazards/{hid}/screen", json={"grade": "general", "department": "TF"}))
    notice = {
        "responsible_person": "u1",
        "measures": "补打锚索",
        "funds": 0,
        "deadline": iso(T0 + timedelta(days=2)),
        "contingency": "撤人",
    }
    ok(office.post(f"/api/v1/hazards/{hid}/notice", json=notice))  # u1 is of CM1, not TF
    assert ok(api.client(api.token("u1")).get("/api/v1/inbox"))["items"] == []
    tf_head = ok(api.client(api.token("u2")).get("/api/v1/inbox"))["items"]
    assert [(i["kind"], i["hazard_id"]) for i in tf_head] == [("notice", hid)]
    audited = ok(api.client(api.token("au")).get("/api/v1/people/u1/inbox"))["items"]
    assert [i["hazard_id"] for i in audited] == [hid]  # the auditor sees what was sent


def test_the_digest_as_of_an_instant_is_the_digest_given_then(api: Api) -> None:
    office, worker, auditor = (api.client(api.token(p)) for p in ("o1", "w1", "au"))
    ok(worker.post("/api/v1/hazards", json=FINDING), 201)
    day = {"date": "2026-11-02"}
    then = api.clock()
    given = ok(office.get("/api/v1/digest", params=day))
    assert given["new_findings"]["total"] == 1 and given["as_of"] is None

    api.clock.advance(hours=2)  # later the same site day: more filed, one voided, issued
    later = {**FINDING, "occurred_at": iso(T0 - timedelta(days=1))}  # a late entry
    second = ok(worker.post("/api/v1/hazards", json={**later, "client_ref": "late-1"}), 201)
    ok(worker.post("/api/v1/hazards", json={**FINDING, "client_ref": "second"}), 201)
    ok(office.post(f"/api/v1/hazards/{second['id']}/void", json={"reason": "重复"}))
    api.clock.set(T0 + timedelta(days=1))
    api.system.runner.catch_up()
    assert issue_digest(api.system.app, api.system.store, then.date(), api.clock())
    now = ok(office.get("/api/v1/digest", params=day))
    assert now["new_findings"]["total"] == 2 and now["issued"] is not None

    for viewer in (office, auditor):
        back = ok(viewer.get("/api/v1/digest", params={**day, "as_of": iso(then)}))
        assert back["as_of"] == iso(then)
        assert {**back, "as_of": None} == given
    # an instant without an offset is read in the site's timezone; bad ones are refused
    local = then.astimezone(api.system.policy.zone).replace(tzinfo=None).isoformat()
    assert ok(office.get("/api/v1/digest", params={**day, "as_of": local}))["as_of"] == iso(then)
    bad = office.get("/api/v1/digest", params={**day, "as_of": "yesterday"})
    assert bad.status_code == 422 and bad.json()["message"]["zh"]
    assert worker.get("/api/v1/digest", params={**day, "as_of": iso(then)}).status_code == 403
