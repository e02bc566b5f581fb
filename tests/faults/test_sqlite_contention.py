"""SQLite under concurrent writers: threads in each server and several server processes on
one file. Nobody ever sees "database is locked" (nor a 5xx of any kind)."""

from __future__ import annotations

import copy
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.conftest import ORG
from tests.e2e.test_loop import FINDING
from tests.faults.procs import Server

PROCESSES = 3
THREADS_PER_PROCESS = 8
FILINGS_PER_THREAD = 10
#: longer than the event store's pool timeout (5 s), shorter than the lock timeout (60 s)
LONG_TRANSACTION_SECONDS = 8


def test_sqlite_with_writers_in_threads_and_processes(tmp_path: Path) -> None:
    env = {"SAFELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'safeloop.db'}"}
    servers = [Server(env, tmp_path / f"server{i}.log") for i in range(PROCESSES)]
    servers[0].start()
    try:
        with servers[0].client() as admin:
            assert admin.put("/api/v1/org", json=copy.deepcopy(ORG)).status_code == 200
        for server in servers[1:]:
            server.start()
        statuses: list[tuple[str, int, str]] = []
        lock = threading.Lock()

        def work(n: int) -> None:
            server = servers[n % PROCESSES]
            with server.client() as client:
                for i in range(FILINGS_PER_THREAD):
                    r = client.post("/api/v1/hazards", json={**FINDING, "client_ref": f"t{n}-{i}"})
                    record("file", r)
                    if r.status_code != 201:
                        continue
                    hid = r.json()["id"]
                    s = client.post(
                        f"/api/v1/hazards/{hid}/screen",
                        json={"grade": "general", "department": "CM1"},
                    )
                    record("screen", s)
                    record("board", client.get("/api/v1/departments/CM1/board"))

        def record(what: str, r: Any) -> None:
            with lock:
                statuses.append((what, r.status_code, r.text[:300]))

        with ThreadPoolExecutor(PROCESSES * THREADS_PER_PROCESS) as pool:
            list(pool.map(work, range(PROCESSES * THREADS_PER_PROCESS)))

        failures = [s for s in statuses if s[1] >= 300]
        assert not failures, failures[:5]
        logs = "\n".join(s.logs() for s in servers)
        assert "locked" not in logs.lower(), logs[-3000:]
    finally:
        for server in servers:
            server.stop()


def test_sqlite_writers_wait_for_a_long_transaction_in_another_process(tmp_path: Path) -> None:
    """Another process holds the write lock for longer than the library's pool timeout (5 s):
    writers queued in the server wait for it (up to the lock timeout) instead of failing, and
    readers are not held up behind them."""
    db = tmp_path / "safeloop.db"
    server = Server({"SAFELOOP_DATABASE_URL": f"sqlite:///{db}"}, tmp_path / "server.log")
    server.start()
    try:
        with server.client() as admin:
            assert admin.put("/api/v1/org", json=copy.deepcopy(ORG)).status_code == 200
            ids = [admin.post("/api/v1/hazards", json=FINDING).json()["id"] for _ in range(12)]
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # a slow writer elsewhere (a rebuild, a backup)
        statuses: list[tuple[int, str]] = []
        lock = threading.Lock()

        def request(n: int) -> None:
            with server.client() as client:
                if n % 3 == 0:
                    r = client.post("/api/v1/hazards", json={**FINDING, "client_ref": f"w{n}"})
                elif n % 3 == 1:
                    r = client.post(
                        f"/api/v1/hazards/{ids[n]}/screen",
                        json={"grade": "general", "department": "CM1"},
                    )
                else:
                    r = client.get(f"/api/v1/hazards/{ids[n]}")
            with lock:
                statuses.append((r.status_code, r.text[:200]))

        threads = [threading.Thread(target=request, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        time.sleep(LONG_TRANSACTION_SECONDS)
        other.execute("COMMIT")
        other.close()
        for t in threads:
            t.join()
        assert sorted(s for s, _ in statuses) == [200] * 8 + [201] * 4, statuses
        assert "locked" not in server.logs().lower()
    finally:
        server.stop()
