"""Many clients racing on one item: for each version exactly one command wins and the rest
get 409 with the item's state, version and allowed commands; nothing is recorded twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from projections.timefmt import iso
from tests.e2e.conftest import Api
from tests.e2e.test_idempotency import concurrently
from tests.e2e.test_loop import FINDING

CLIENTS = 8


def race(api: Api, hid: str, command: str, body: dict[str, Any], version: int | None) -> Any:
    def call() -> Any:
        headers = {"If-Match": str(version)} if version is not None else {}
        with api.client() as client:
            return client.post(f"/api/v1/hazards/{hid}/{command}", json=body, headers=headers)

    results = concurrently(CLIENTS, call)
    won = [r for r in results if r.status_code == 200]
    lost = [r for r in results if r.status_code != 200]
    assert len(won) == 1, [r.text for r in results]
    for r in lost:
        assert r.status_code == 409, r.text
        assert r.json()["error"] in ("version_conflict", "illegal_transition"), r.text
        assert r.json()["state"] == won[0].json()["state"]
        assert r.json()["message"]["zh"] and r.json()["message"]["en"]
    return won[0].json()


def test_one_command_wins_per_version_through_the_loop(api: Api) -> None:
    admin = api.client()
    hid = admin.post("/api/v1/hazards", json=FINDING).json()["id"]
    deadline = iso(api.clock() + timedelta(days=3))
    steps: list[tuple[str, dict[str, Any]]] = [
        ("screen", {"grade": "general", "department": "CM1"}),
        (
            "notice",
            {
                "responsible_person": "u1",
                "measures": "补打锚索",
                "funds": 100,
                "deadline": deadline,
                "contingency": "撤人",
            },
        ),
        ("submit", {"evidence": ["照片"]}),
        ("recheck", {"passed": False, "note": "未张拉"}),
        ("submit", {"evidence": ["张拉记录"]}),
        ("recheck", {"passed": True, "note": "合格"}),
    ]
    version = 1
    for command, body in steps:
        won = race(api, hid, command, body, version)
        assert won["version"] > version
        version = won["version"]
    history = admin.get(f"/api/v1/hazards/{hid}/history").json()
    assert [h["version"] for h in history] == list(range(1, version + 1))
    assert [h["type"] for h in history].count("RectificationSubmitted") == 2
    assert history[-1]["type"] == "Closed"


def test_mutually_exclusive_commands_without_if_match(api: Api) -> None:
    admin = api.client()
    for command, body in (
        ("void", {"reason": "重复登记"}),
        ("fix-on-spot", {"note": "已现场处理"}),
    ):
        hid = admin.post("/api/v1/hazards", json=FINDING).json()["id"]
        race(api, hid, command, body, None)
        history = admin.get(f"/api/v1/hazards/{hid}/history").json()
        assert len(history) == 2
