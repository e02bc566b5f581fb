"""Server memory after N events: the resident set of a real ``safeloop serve`` process.

Baseline: the server started on a store holding a small generated history (300 findings),
after its read models caught up and it answered a round of requests. Measured: the same
server started on the same store grown to N events (copies of that history under fresh ids,
straight into the log), after its read models caught up with all of them (from zero) and the
same round of requests. Goal: flat, < 300 MB RSS.

    .venv/bin/python bench/memory.py [--size EVENTS]     # default 30,000
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
from _harness import arguments, copy_history, hazard_rows, on_each_store, opened, report

from safeloop.generate import generate
from safeloop.settings import Settings

TOKEN = "bench-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def served_rss(settings: Settings, head: int) -> float:
    """Start the server, wait until its read models reach ``head``, use it, measure."""
    port = free_port()
    env = {
        **os.environ,
        "SAFELOOP_DATABASE_URL": settings.database_url,
        "SAFELOOP_DATABASE_SCHEMA": settings.database_schema,
        "SAFELOOP_ADMIN_TOKEN": TOKEN,
        "SAFELOOP_LOG_LEVEL": "WARNING",
        "SAFELOOP_SECRET_KEY": "bench-secret-key",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "safeloop.cli", "serve", "--port", str(port), "--no-scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        deadline = time.monotonic() + 3600
        while True:
            try:
                status = httpx.get(f"{base}/healthz", timeout=5)
                if status.status_code == 200 and all(
                    p["position"] >= head for p in status.json()["projections"].values()
                ):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not catch up")
            time.sleep(0.5)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for path in ("/api/v1/departments/ZC1/board", "/api/v1/hazards?limit=200"):
                for _ in range(20):
                    client.get(path).raise_for_status()
        return rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)


def bench(name: str, settings: Settings, n: int) -> None:
    with opened(settings) as system:
        generate(system, items=300, days=30, seed=1)
        small = system.app.head()
        template = hazard_rows(system)
    base = served_rss(settings, small)
    with opened(settings) as system:
        copy_history(system, template, max(0, n - small))
        big = system.app.head()
        system.runner.reset()  # the server builds every read model from zero
    grown = served_rss(settings, big)
    report(f"[{name}] server RSS at {big:,} events vs {small:,}", grown, base, "MB", "< 300 MB")


def main() -> None:
    args = arguments(__doc__ or "", 30_000, "events in the log")
    on_each_store(args, bench)


if __name__ == "__main__":
    main()
