"""The tick with N open items of which 100 are due: its cost should follow the due items.

200 real findings are filed, screened and noticed: 100 due at T+1 h, 100 at T+2 h. Baseline:
the tick at T+1 h with only those open (it re-notices 100). Then N more open items are added
to the deadline index (the read model the tick reads: each with a deadline and a reminder
still to come — the tick never loads an item that is not due, so the index rows are what an
open item costs it), and the tick at T+2 h re-notices the other 100. Goal: < 100 ms.

    .venv/bin/python bench/tick.py [--size OPEN_ITEMS]     # default 200,000
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from _harness import T0, arguments, fake_clock, on_each_store, opened, report, timed

from projections.timefmt import iso
from safeloop.settings import Settings
from safeloop.system import System
from tests.conftest import ORG, noticed_finding

DUE = 100


def noticed(system: System, deadline_at: datetime, tag: str) -> None:
    for i in range(DUE):
        noticed_finding(system.app, deadline_at, client_ref=f"{tag}-{i}")


def open_items(system: System, n: int) -> None:
    far = T0 + timedelta(days=30)
    batch = 20_000
    for start in range(0, n, batch):
        rows = []
        for i in range(start, min(n, start + batch)):
            hazard_id = str(uuid.uuid4())
            due = far + timedelta(seconds=i)
            rows.append((hazard_id, "deadline", iso(due)))
            rows.append((hazard_id, "reminder", iso(due - timedelta(hours=24))))
        with system.store.write() as cur:
            cur.executemany(
                "INSERT INTO deadlines (hazard_id, kind, due_at) VALUES (?, ?, ?)", rows
            )
    with system.store.write() as cur:
        cur.execute("ANALYZE deadlines" if system.store.dialect == "postgres" else "ANALYZE")


def bench(name: str, settings: Settings, n: int) -> None:
    clock = fake_clock(T0)
    with opened(settings, clock) as system:
        system.app.load_org(ORG, actor="admin", now=T0 - timedelta(days=1))
        noticed(system, T0 + timedelta(hours=1), "first")
        noticed(system, T0 + timedelta(hours=2), "second")
        system.runner.catch_up()
        clock.set(T0 + timedelta(hours=1, minutes=1))
        result = None

        def tick() -> None:
            nonlocal result
            result = system.app.tick(clock())

        base = timed(tick) * 1000
        assert result is not None
        assert result.renoticed == DUE, result
        system.runner.catch_up()
        open_items(system, n)
        clock.set(T0 + timedelta(hours=2, minutes=1))
        took = timed(tick) * 1000
        assert result is not None
        assert result.renoticed == DUE, result
    print(f"[{name}] tick re-noticing {DUE} items: with 200 open, then with {n + DUE:,} open")
    report(f"[{name}] tick at {n + DUE:,} open vs at 200", took, base, "ms", "< 100 ms")


def main() -> None:
    args = arguments(__doc__ or "", 200_000, "open items not due")
    on_each_store(args, bench)


if __name__ == "__main__":
    main()
