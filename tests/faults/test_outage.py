"""PostgreSQL stopped for 10 s under load (a private cluster; the shared one is never touched):
requests get 503 with Retry-After, in bounded time (no 500, no hang); when it returns, the same
server process, its projection runner and its scheduler recover on their own and catch up."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from domain.hazard import Hazard
from safeloop.settings import Settings
from safeloop.system import build_system
from tests.conftest import ORG
from tests.e2e.test_loop import FINDING
from tests.faults.checks import assert_nothing_half_written, assert_read_models_equal_a_rebuild
from tests.faults.procs import PrivatePostgres, Server, wait_until

OUTAGE_SECONDS = 10
#: a request must be answered within this (the pool gives up on a connection after 5 s)
REQUEST_BOUND_SECONDS = 15
LOAD_THREADS = 4
DUE_ITEMS = 20


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def test_postgres_outage_under_load(private_pg: PrivatePostgres, tmp_path: Path) -> None:
    settings = Settings(database_url=private_pg.url)
    system = build_system(settings)
    try:
        now = datetime.now(UTC)
        system.app.load_org(copy.deepcopy(ORG), actor="admin", now=now)
        due = [file_and_screen(system, now) for _ in range(DUE_ITEMS)]
    finally:
        system.close()

    server = Server(
        {"SAFELOOP_DATABASE_URL": private_pg.url, "SAFELOOP_TICK_INTERVAL_SECONDS": "1"},
        tmp_path / "server.log",
        scheduler=True,
    ).start()
    load = Load(server)
    try:
        load.start()
        wait_until(lambda: load.count(201) >= 10, "filings before the outage")

        # deadlines that pass while the store is down: only a recovered scheduler handles them
        system = build_system(settings)
        try:
            deadline = notice(system, due, seconds=4)
        finally:
            system.close()
        private_pg.stop()
        assert datetime.now(UTC) < deadline, "the outage began before the deadlines passed"
        down_at = time.monotonic()
        time.sleep(OUTAGE_SECONDS)  # the fault: the store stays away this long
        up_at = time.monotonic()
        private_pg.start()
        restarted = datetime.now(UTC)

        def recovered() -> bool:
            with server.client(timeout=REQUEST_BOUND_SECONDS) as client:
                health = client.get("/healthz")
                if health.status_code != 200:
                    return False
                lags = [p["lag"] for p in health.json()["projections"].values()]
                items = [client.get(f"/api/v1/hazards/{hid}").json() for hid in due]
            return all(lag == 0 for lag in lags) and all(i["state"] == "OVERDUE" for i in items)

        wait_until(recovered, "the server, read models and scheduler to catch up", 120, 0.5)
        wait_until(lambda: load.count(201, since=up_at) >= 10, "filings after the outage", 60)
    finally:
        load.stop()
        alive = server.proc is not None and server.proc.poll() is None
        server.stop()

    assert alive, "the server kept running through the outage"
    # not a hang: while the store is down, every client gets answers (503s) before it is back
    while_down = [r for r in load.results if down_at <= r["start"] and r["end"] <= up_at]
    assert len(while_down) >= LOAD_THREADS, "clients got no answer while the store was down"
    assert {r["status"] for r in while_down} == {503}, while_down
    for r in load.results:
        assert r["status"] in (200, 201, 503), r
        assert r["end"] - r["start"] < REQUEST_BOUND_SECONDS, r
        if r["status"] == 503:
            assert r["retry_after"] and int(r["retry_after"]) > 0, r
            assert r["body"]["message"]["zh"] and r["body"]["message"]["en"], r
    assert "Traceback" not in server.logs(), server.logs()[-5000:]

    system = build_system(settings)
    try:
        # a client retries its 503'd filings with the same client_ref: one finding each
        refused = [r["ref"] for r in load.results if r["ref"] and r["status"] == 503]
        for ref in refused:
            system.app.file_hazard(**finding(ref), actor="admin", now=datetime.now(UTC))
        reported = assert_nothing_half_written(system)
        refs = [e.client_ref for e in reported.values() if e.client_ref]
        assert len(refs) == len(set(refs))
        assert set(load.refs_filed()) | set(refused) == set(refs)
        for hid in due:
            events = system.app.hazard_events(hid)
            renotices = [e for e in events if isinstance(e, Hazard.ReNoticed)]
            assert len(renotices) == 1, [type(e).__name__ for e in events]
            assert renotices[0].timestamp >= restarted, "handled by the recovered scheduler"
        assert_read_models_equal_a_rebuild(system)
    finally:
        system.close()


def finding(ref: str | None = None) -> dict[str, Any]:
    fields = {**FINDING, "occurred_at": datetime.now(UTC) - timedelta(minutes=5)}
    return {**fields, "client_ref": ref}


def file_and_screen(system: Any, now: datetime) -> UUID:
    hid: UUID = system.app.file_hazard(**finding(), actor="admin", now=now).id
    system.app.screen(hid, grade="general", department="CM1", actor="admin", now=now)
    return hid


def notice(system: Any, ids: list[UUID], seconds: int) -> datetime:
    now = datetime.now(UTC)
    deadline = now + timedelta(seconds=seconds)
    for hid in ids:
        system.app.issue_notice(
            hid,
            responsible_person="u1",
            measures="补打锚索",
            funds=Decimal(0),
            deadline=deadline,
            contingency="撤人",
            actor="admin",
            now=now,
        )
    return deadline


class Load:
    """A few clients filing and reading in a loop (bounded: they stop when told)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.results: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(LOAD_THREADS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def count(self, status: int, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for r in self.results if r["status"] == status and r["start"] >= since)

    def refs_filed(self) -> list[str]:
        return [r["ref"] for r in self.results if r["ref"] and r["status"] in (200, 201)]

    def _run(self, n: int) -> None:
        with self.server.client(timeout=REQUEST_BOUND_SECONDS) as client:
            i = 0
            last: str | None = None
            while not self._stop.is_set() and i < 2000:
                i += 1
                ref = f"load-{n}-{i}"
                body = {**FINDING, "client_ref": ref}
                self._request(client, "POST", "/api/v1/hazards", body, ref)
                if last:
                    self._request(client, "GET", f"/api/v1/hazards/{last}", None, None)
                self._request(client, "GET", "/api/v1/departments/CM1/board", None, None)
                with self._lock:
                    filed = [r for r in self.results if r["ref"] == ref and r["status"] == 201]
                last = filed[0]["body"]["id"] if filed else last
                self._stop.wait(0.05)

    def _request(
        self, client: httpx.Client, method: str, path: str, body: Any, ref: str | None
    ) -> None:
        started = time.monotonic()
        try:
            r = client.request(method, path, json=body)
            result = {
                "status": r.status_code,
                "retry_after": r.headers.get("retry-after"),
                "body": r.json(),
            }
        except httpx.HTTPError as e:
            result = {"status": None, "error": repr(e), "retry_after": None, "body": None}
        result |= {"ref": ref, "path": path, "start": started, "end": time.monotonic()}
        with self._lock:
            self.results.append(result)
