"""Retried filings make one finding: the same client_ref, or the same Idempotency-Key (the
caller's own) with the same body; the same key with a different body is refused with 422."""

from __future__ import annotations

import threading
from typing import Any

from tests.e2e.conftest import Api
from tests.e2e.test_loop import FINDING

KEY = {"Idempotency-Key": "phone-42:2026-11-02T08:00:00Z#1"}


def concurrently(n: int, call: Any) -> list[Any]:
    results: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        r = call()
        with lock:
            results.append(r)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_the_same_idempotency_key_and_body_make_one_finding(api: Api) -> None:
    client = api.client(api.token("w1"))
    first = client.post("/api/v1/hazards", json=FINDING, headers=KEY)
    assert first.status_code == 201, first.text
    head = api.head()
    again = client.post("/api/v1/hazards", json=FINDING, headers=KEY)
    assert again.status_code == 200 and again.json() == first.json()
    assert api.head() == head, "a replay records nothing"
    other = client.post("/api/v1/hazards", json=FINDING, headers={"Idempotency-Key": "k2"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_concurrent_retries_make_one_finding(api: Api) -> None:
    def by_key() -> Any:
        with api.client() as client:
            return client.post("/api/v1/hazards", json=FINDING, headers=KEY)

    def by_ref() -> Any:
        with api.client() as client:
            return client.post("/api/v1/hazards", json={**FINDING, "client_ref": "phone-9"})

    last = api.client().post("/api/v1/hazards", json=FINDING).json()["number"]
    for call in (by_key, by_ref):
        results = concurrently(12, call)
        assert sorted(r.status_code for r in results) == [200] * 11 + [201], [
            r.text for r in results
        ]
        assert len({r.json()["id"] for r in results}) == 1
        number = results[0].json()["number"]
        assert {r.json()["number"] for r in results} == {number}
        # one finding: one Reported event, one step of the day's counter
        assert int(number[-4:]) == int(last[-4:]) + 1
        history = api.client().get(f"/api/v1/hazards/{results[0].json()['id']}/history")
        assert [h["type"] for h in history.json()] == ["Reported"]
        last = number


def test_the_same_key_with_a_different_body_is_refused(api: Api) -> None:
    client = api.client(api.token("w1"))
    first = client.post("/api/v1/hazards", json=FINDING, headers=KEY)
    assert first.status_code == 201
    head = api.head()
    changed = client.post("/api/v1/hazards", json={**FINDING, "location": "另一处"}, headers=KEY)
    assert changed.status_code == 422, changed.text
    body = changed.json()
    assert body["fields"][0]["field"] == "Idempotency-Key"
    assert body["message"]["zh"] and body["message"]["en"]
    assert api.head() == head
    # the same instant written with another offset is the same body
    same = {**FINDING, "occurred_at": FINDING["occurred_at"].replace("Z", "+00:00")}
    assert client.post("/api/v1/hazards", json=same, headers=KEY).status_code == 200
    # an urgent filing is another body than a plain one, and the other way round
    urgent = client.post("/api/v1/hazards", json={**FINDING, "urgent": True}, headers=KEY)
    assert urgent.status_code == 422
    key2 = {"Idempotency-Key": "phone-42:urgent"}
    assert (
        client.post("/api/v1/hazards", json={**FINDING, "urgent": True}, headers=key2).status_code
        == 201
    )
    again = client.post("/api/v1/hazards", json={**FINDING, "urgent": True}, headers=key2)
    assert again.status_code == 200
    assert client.post("/api/v1/hazards", json=FINDING, headers=key2).status_code == 422


def test_keys_belong_to_their_caller(api: Api) -> None:
    worker = api.client(api.token("w1"))
    office = api.client(api.token("o1"))
    mine = worker.post("/api/v1/hazards", json=FINDING, headers=KEY)
    theirs = office.post("/api/v1/hazards", json=FINDING, headers=KEY)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_an_invalid_key_gets_422(api: Api) -> None:
    client = api.client()
    for key in ("", "k" * 201):
        r = client.post("/api/v1/hazards", json=FINDING, headers={"Idempotency-Key": key})
        assert r.status_code == 422, (key, r.text)
        assert r.json()["message"]["zh"]
