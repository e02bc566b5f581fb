"""What the bench scripts share: arguments, stores, filling the log fast, and the report line.

Every script measures its own baseline in the same run and prints ``measured / baseline``; the
machine may be shared, so absolute numbers move from run to run while ratios hold better.
Not a bench itself (``make bench`` runs ``bench/[!_]*.py``).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SAFELOOP_LOG_LEVEL", "WARNING")

import psycopg  # noqa: E402

from safeloop.settings import Settings  # noqa: E402
from safeloop.system import System, build_system  # noqa: E402
from tests.conftest import ORG, PG_URL, FakeClock  # noqa: E402

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def arguments(doc: str, size: int, what: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--size", type=int, default=None, help=f"{what} (default {size:,})")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the default size (make BENCH_SCALE=)"
    )
    parser.add_argument(
        "--stores", default="sqlite,postgres", help="which stores (default sqlite,postgres)"
    )
    args = parser.parse_args()
    if args.size is None:
        args.size = max(1, int(size * args.scale))
    return args


def postgres_reachable() -> bool:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


@contextmanager
def store_settings(kind: str, **overrides: Any) -> Iterator[Settings | None]:
    """Settings for a fresh, throw-away store (None when PostgreSQL is not reachable)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield Settings(database_url=f"sqlite:///{tmp}/bench.db", **overrides)
        return
    if not postgres_reachable():
        print("[postgres] not reachable; skipped")
        yield None
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        yield Settings(database_url=PG_URL, database_schema=schema, **overrides)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def opened(settings: Settings, clock: Callable[[], datetime] | None = None) -> Iterator[System]:
    system = build_system(settings, clock=clock)
    try:
        yield system
    finally:
        system.close()


def stores(args: argparse.Namespace) -> list[str]:
    return [s.strip() for s in args.stores.split(",") if s.strip()]


def on_each_store(args: argparse.Namespace, bench: Callable[[str, Settings, int], None]) -> None:
    """Run ``bench(kind, settings, args.size)`` on a fresh store of each kind asked for."""
    for kind in stores(args):
        with store_settings(kind) as settings:
            if settings is not None:
                bench(kind, settings, args.size)


def with_org(system: System, now: datetime = T0 - timedelta(days=1)) -> None:
    system.app.load_org(copy.deepcopy(ORG), actor="admin", now=now)


def fake_clock(at: datetime = T0) -> FakeClock:
    clock = FakeClock()
    clock.set(at)
    return clock


# -- filling the log fast ------------------------------------------------------------------------


def hazard_rows(system: System) -> list[tuple[Any, int, str, bytes]]:
    """The stored events of every finding in the log, in log order (a template to copy)."""
    rows = []
    start = 1
    while True:
        batch = system.app.recorder.select_notifications(start=start, limit=10_000)
        if not batch:
            return rows
        rows += [
            (n.originator_id, n.originator_version, n.topic, n.state)
            for n in batch
            if ":Hazard." in n.topic
        ]
        start = batch[-1].id + 1


def copy_history(system: System, template: list[tuple[Any, int, str, bytes]], events: int) -> int:
    """Append copies of ``template`` (each finding under a fresh id) until ``events`` more
    events are stored — straight into the log, as a restore would; returns how many."""
    postgres = system.store.dialect == "postgres"
    made = 0
    copy_no = 0
    while made < events:
        copy_no += 1
        ids: dict[Any, uuid.UUID] = {}
        rows = []
        for oid, version, topic, state in template:
            new = ids.setdefault(oid, uuid.uuid4())
            rows.append((new if postgres else new.hex, version, topic, state))
            if made + len(rows) >= events:
                # keep whole findings: finish this one's events, then stop
                last = oid
                rest = [r for r in template[len(rows) :] if r[0] == last]
                rows += [(new if postgres else new.hex, v, t, s) for _, v, t, s in rest]
                break
        append_to_log(system, rows)
        made += len(rows)
    return made


def append_to_log(system: System, rows: list[tuple[Any, int, str, bytes]]) -> None:
    """Rows straight into the event log, in one transaction (a COPY on PostgreSQL)."""
    with system.store.write() as cur:
        cur.executemany(
            f"INSERT INTO {system.events_table} (originator_id, originator_version, topic, state)"
            " VALUES (?, ?, ?, ?)",
            rows,
        )


# -- measuring and reporting -----------------------------------------------------------------------


def timed(run: Callable[[], object]) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def latencies(run: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        run()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def report(label: str, measured: float, baseline: float, unit: str, goal: str) -> None:
    ratio = measured / baseline if baseline else float("nan")
    print(
        f"{label}: measured {measured:,.1f} {unit}, baseline {baseline:,.1f} {unit},"
        f" ratio {ratio:.2f} ({ratio:.0%}); goal {goal}",
        flush=True,
    )
