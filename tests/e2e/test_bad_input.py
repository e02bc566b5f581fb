"""Every endpoint answers bad input with 422 (zh and en) and records nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from projections.timefmt import iso
from tests.conftest import T0
from tests.e2e.conftest import Api
from tests.e2e.test_loop import FINDING

#: "²": str.isdigit() says yes, int() says no
SUPER_2 = "²".encode("latin-1")
NOTICE = {
    "responsible_person": "u1",
    "measures": "加强支护",
    "funds": 100,
    "deadline": iso(T0 + timedelta(days=2)),
    "contingency": "撤人",
}


def cases(hid: str) -> list[tuple[str, str, Any, dict[str, str]]]:
    h = f"/api/v1/hazards/{hid}"
    return [
        ("POST", "/api/v1/hazards", "{not json", {"Content-Type": "application/json"}),
        ("POST", "/api/v1/hazards", [], {}),
        ("POST", "/api/v1/hazards", {**FINDING, "kind": "rumour"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "reporter_role": 7}, {}),
        ("POST", "/api/v1/hazards", {k: v for k, v in FINDING.items() if k != "location"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "colour": "red"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "occurred_at": "yesterday"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "occurred_at": "1899-12-31T00:00:00Z"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "occurred_at": "2999-01-01T00:00:00Z"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "occurred_at": iso(T0 + timedelta(days=1))}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "description": "险" * 10_001}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "description": ""}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "description": "   "}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "description": "顶板\u0000离层"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "location": "K12\x07"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "client_ref": "a\x00"}, {}),
        ("POST", "/api/v1/hazards", b"\xff\xfe{}", {"Content-Type": "application/json"}),
        ("POST", "/api/v1/hazards", {**FINDING, "occurred_at": "0001-01-01T00:00:00Z"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "occurred_at": "9999-12-31T23:59:59Z"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "kind": "HAZARD"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "description": 42}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "description": ["a"]}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "reporter": "ghost"}, {}),
        ("POST", "/api/v1/hazards", {**FINDING, "department": "NOPE"}, {}),
        ("POST", f"{h}/screen", {"grade": "huge", "department": "CM1"}, {}),
        ("POST", f"{h}/screen", {"grade": "general", "department": "NOPE"}, {}),
        ("POST", f"{h}/screen", {"grade": "general", "department": "CM1"}, {"If-Match": "v1"}),
        ("POST", f"{h}/screen", {"grade": "general", "department": "CM1"}, {"If-Match": SUPER_2}),
        ("POST", f"{h}/fix-on-spot", {}, {}),
        ("POST", f"{h}/void", {"reason": 5}, {}),
        ("POST", f"{h}/merge", {"into": "not-a-uuid"}, {}),
        ("POST", f"{h}/merge", {"into": hid}, {}),
        ("POST", f"{h}/notice", {**NOTICE, "funds": "lots"}, {}),
        ("POST", f"{h}/notice", {**NOTICE, "funds": -5}, {}),
        ("POST", f"{h}/notice", {**NOTICE, "funds": 1.234}, {}),
        ("POST", f"{h}/notice", {**NOTICE, "deadline": "2026-13-45"}, {}),
        ("POST", f"{h}/extension", {"requested_deadline": None, "reason": "x"}, {}),
        ("POST", f"{h}/extension/decision", {"granted": "perhaps"}, {}),
        ("POST", f"{h}/submit", {"evidence": []}, {}),
        ("POST", f"{h}/submit", {"evidence": [""]}, {}),
        ("POST", f"{h}/recheck", {"passed": "maybe"}, {}),
        (
            "POST",
            "/api/v1/hazards/not-a-uuid/screen",
            {"grade": "general", "department": "CM1"},
            {},
        ),
        ("GET", "/api/v1/hazards/not-a-uuid", None, {}),
        ("GET", f"{h}?as_of=soon", None, {}),
        ("GET", "/api/v1/hazards?state=LOST", None, {}),
        ("GET", "/api/v1/hazards?limit=0", None, {}),
        ("GET", "/api/v1/hazards?limit=100000", None, {}),
        ("GET", "/api/v1/hazards?cursor=abc", None, {}),
        ("GET", "/api/v1/hazards?cursor=²", None, {}),
        ("GET", "/api/v1/hazards?cursor=99999999999999999999999", None, {}),
        ("GET", "/api/v1/hazards?department=CM%001", None, {}),
        ("GET", "/api/v1/hazards?overdue=sometimes", None, {}),
        ("POST", "/api/v1/tick", {"now": "noon"}, {}),
        ("PUT", "/api/v1/org", "departments: [", {"Content-Type": "application/yaml"}),
        ("PUT", "/api/v1/org", {"departments": [{"code": "X"}], "people": []}, {}),
        (
            "PUT",
            "/api/v1/org",
            {"departments": [], "people": [{"id": "p", "name": "n", "role": "boss"}]},
            {},
        ),
    ]


def test_bad_input_gets_422_in_both_languages_and_records_nothing(api: Api) -> None:
    admin = api.client()
    hid = admin.post("/api/v1/hazards", json=FINDING).json()["id"]
    head = api.head()
    for method, path, body, headers in cases(hid):
        if isinstance(body, str | bytes):
            raw = body.encode() if isinstance(body, str) else body
            r = admin.request(method, path, content=raw, headers=headers)
        else:
            r = admin.request(method, path, json=body, headers=headers)
        assert r.status_code == 422, (method, path, body if len(str(body)) < 200 else "...", r.text)
        payload = r.json()
        assert payload["message"]["zh"] and payload["message"]["en"], r.text
        assert payload["fields"], r.text
        assert all(f["zh"] and f["en"] and f["field"] for f in payload["fields"]), r.text
    assert api.head() == head, "a refused request recorded something"
    assert admin.get(f"/api/v1/hazards/{hid}").json()["state"] == "REPORTED"


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
def test_oversized_bodies_get_413(api: Api) -> None:
    admin = api.client()
    huge = {**FINDING, "description": "x" * 2_000_000}
    r = admin.post("/api/v1/hazards", json=huge)
    assert r.status_code == 413
    assert r.json()["message"]["zh"]


def test_text_is_stored_exactly(api: Api) -> None:
    """On both stores: in the event store (the item) and in the read models (the list)."""
    admin = api.client()
    mixed = "  混合 scripts: Ünïcödé, عربى, 日本語, emoji 👷‍♂️⛑️, tabs\tand\nnewlines  "
    text = mixed + "险" * (10_000 - len(mixed))  # the longest description allowed
    assert len(text) == 10_000
    place = "𠀋 1301回风顺槽 Ⅱ号 🚧 «Zone-B» — ק"
    filed = admin.post("/api/v1/hazards", json={**FINDING, "description": text, "location": place})
    assert filed.status_code == 201
    hid = filed.json()["id"]
    item = admin.get(f"/api/v1/hazards/{hid}").json()
    assert (item["description"], item["location"]) == (text, place)
    listed = [i for i in admin.get("/api/v1/hazards").json()["items"] if i["id"] == hid]
    assert [(i["description"], i["location"]) for i in listed] == [(text, place)]
