"""How long the audit chain takes to build and `verify` takes to walk, per million events.

Fills a fresh store (SQLite file, and PostgreSQL when reachable) with N stored events made
from a real filing's bytes (distinct ids), then times: a plain scan of the log (the
baseline), building the chain (the runner, as it follows the log) and verify.

    .venv/bin/python bench/verify_chain.py [--size N | --scale F]     # default 50,000
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from _harness import append_to_log

from projections import audit
from projections.runner import ProjectionRunner
from safeloop.settings import Settings
from safeloop.system import System, build_system
from tests.conftest import ORG, PG_URL

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def fill(system: System, n: int) -> None:
    app = system.app
    app.load_org(copy.deepcopy(ORG), actor="admin", now=T0 - timedelta(days=1))
    result = app.file_hazard(
        kind="hazard",
        description="回风巷瓦斯传感器吊挂位置不当，距顶板超过300mm",
        location="1301回风顺槽",
        reporter="w1",
        reporter_role="worker",
        occurred_at=T0,
        actor="w1",
        now=T0,
    )
    template = app.recorder.select_events(result.id)[0]
    postgres = system.store.dialect == "postgres"
    batch = 20_000
    made = app.head()
    while made < n:
        rows = []
        for _ in range(min(batch, n - made)):
            oid = uuid.uuid4()
            rows.append((oid if postgres else oid.hex, 1, template.topic, template.state))
        append_to_log(system, rows)
        made += len(rows)


def scan(system: System) -> int:
    return sum(1 for _ in audit.log_rows(system.store, system.events_table, 10_000))


def bench(name: str, settings: Settings, n: int) -> None:
    system = build_system(settings)
    try:
        t = time.perf_counter()
        fill(system, n)
        print(f"[{name}] filled {system.app.head():,} events in {time.perf_counter() - t:.1f}s")
        t = time.perf_counter()
        rows = scan(system)
        base = time.perf_counter() - t
        chain = [p for p in system.runner.projections if isinstance(p, audit.AuditChain)]
        runner = ProjectionRunner(system.app, system.store, chain, batch_size=5000)
        t = time.perf_counter()
        runner.catch_up()
        build = time.perf_counter() - t
        t = time.perf_counter()
        report = audit.verify(system.store, system.events_table)
        walk = time.perf_counter() - t
        if not report.ok or report.chained != rows:
            raise SystemExit(f"verify failed: {report}")
        per_m = 1_000_000 / rows
        print(
            f"[{name}] {rows:,} events: scan {base:.1f}s (baseline); chain build {build:.1f}s"
            f" ({build / base:.1f}x); verify {walk:.1f}s ({walk / base:.1f}x);"
            f" verify per million events {walk * per_m:.1f}s"
        )
    finally:
        system.close()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="audit chain build and verify")
    parser.add_argument("n", nargs="?", type=int, help="events (default 50,000)")
    parser.add_argument("--size", type=int, help="events (default 50,000)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the default")
    args = parser.parse_args()
    n = args.size or args.n or max(1, int(50_000 * args.scale))
    with tempfile.TemporaryDirectory() as tmp:
        bench("sqlite", Settings(database_url=f"sqlite:///{tmp}/bench.db"), n)
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error:
        print("[postgres] not reachable; skipped")
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        bench("postgres", Settings(database_url=PG_URL, database_schema=schema), n)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    os.environ.setdefault("SAFELOOP_LOG_LEVEL", "WARNING")
    main()
