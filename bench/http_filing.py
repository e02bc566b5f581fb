"""HTTP filing throughput against a no-op endpoint of the same server.

Starts a real server process (uvicorn, one worker, the scheduler off) on each store, with one
extra route that does nothing (``GET /bench/noop``, through the same middleware), and has 8
client threads send requests: first to the no-op route (the baseline: what the HTTP stack
alone allows here), then ``POST /api/v1/hazards`` filings (each with its own client_ref; the
answer waits for the read models, as every command does). Goal: filings ≥ 40 % of the no-op
rate; p50/p99 latencies printed.

    .venv/bin/python bench/http.py [--size REQUESTS]     # default 1,000 per figure
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import httpx
from _harness import ROOT, arguments, pct, report, store_settings, stores

from tests.conftest import ORG

CLIENTS = 8
TOKEN = "bench-admin-token"
SERVER = """
import sys, uvicorn
sys.path.insert(0, {root!r})
from safeloop.settings import Settings
from safeloop.system import build_system
from safeloop.web import web_app
system = build_system(Settings())
app = web_app(system, with_scheduler=False)

@app.get("/bench/noop")
def noop() -> dict[str, bool]:
    return {{"ok": True}}

uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def hammer(base: str, n: int, request: type[object] | object) -> tuple[float, list[float]]:
    """``n`` requests from CLIENTS threads; returns (requests/s, latencies in ms)."""
    per = max(1, n // CLIENTS)
    lat: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors: list[str] = []

    def work(i: int) -> None:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        ) as client:
            for k in range(per):
                t = time.perf_counter()
                response = request(client, i, k)  # type: ignore[operator]
                lat[i].append((time.perf_counter() - t) * 1000)
                if response.status_code >= 300:
                    errors.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.perf_counter() - t
    if errors:
        raise SystemExit(f"requests failed: {errors[0]}")
    flat = [x for per_client in lat for x in per_client]
    return len(flat) / took, flat


def noop(client: httpx.Client, i: int, k: int) -> httpx.Response:
    return client.get("/bench/noop")


def filing(run: str) -> object:
    def file(client: httpx.Client, i: int, k: int) -> httpx.Response:
        return client.post(
            "/api/v1/hazards",
            json={
                "kind": "hazard",
                "description": "回风巷瓦斯传感器吊挂位置不当，距顶板超过300mm",
                "location": "1301回风顺槽",
                "reporter": "w1",
                "reporter_role": "worker",
                "occurred_at": "2026-11-02T08:10:00+08:00",
                "client_ref": f"{run}-{i}-{k}",
            },
        )

    return file


def bench(name: str, env: dict[str, str], n: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(root=str(ROOT), port=port)],
        env={
            **os.environ,
            **env,
            "SAFELOOP_ADMIN_TOKEN": TOKEN,
            "SAFELOOP_LOG_LEVEL": "WARNING",
            "SAFELOOP_SECRET_KEY": "bench-secret-key",
        },
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/bench/noop", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
            response = admin.put("/api/v1/org", content=json.dumps(ORG))
            response.raise_for_status()
        hammer(base, CLIENTS * 5, noop)  # warm up
        hammer(base, CLIENTS * 5, filing("warm"))
        base_rate, base_lat = hammer(base, n, noop)
        rate, lat = hammer(base, n, filing(uuid.uuid4().hex[:8]))
        print(
            f"[{name}] {CLIENTS} clients, {n:,} requests per figure:"
            f" no-op p50 {pct(base_lat, 50):.1f} ms p99 {pct(base_lat, 99):.1f} ms;"
            f" filing p50 {pct(lat, 50):.1f} ms p99 {pct(lat, 99):.1f} ms"
        )
        report(f"[{name}] filings vs no-op", rate, base_rate, "requests/s", "ratio >= 0.40")
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    args = arguments(__doc__ or "", 1000, "requests per figure")
    for kind in stores(args):
        with store_settings(kind) as settings:
            if settings is None:
                continue
            env = {
                "SAFELOOP_DATABASE_URL": settings.database_url,
                "SAFELOOP_DATABASE_SCHEMA": settings.database_schema,
            }
            bench(kind, env, args.size)


if __name__ == "__main__":
    main()
