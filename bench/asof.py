"""One item as of a past instant, for a long-lived item against a short-lived one.

Baseline: ``SafeLoop.hazard(id, as_of)`` (what ``GET /hazards/{id}?as_of=`` and the item page
call) for an item with 5 events, as of its last instant. Measured: the same for an item whose
loop went round and round (submitted, recheck failed, …) for N events, as of an instant near
the end of its life and as of one in the middle. Goal: p99 < 5 ms.

    .venv/bin/python bench/asof.py [--size EVENTS]     # default 2,000
"""

from __future__ import annotations

from datetime import timedelta

from _harness import (
    T0,
    arguments,
    fake_clock,
    latencies,
    on_each_store,
    opened,
    pct,
    report,
)

from safeloop.settings import Settings
from tests.conftest import ORG, noticed_finding

REPEAT = 300


def bench(name: str, settings: Settings, n: int) -> None:
    clock = fake_clock(T0)
    with opened(settings, clock) as system:
        app = system.app
        app.load_org(ORG, actor="admin", now=T0 - timedelta(days=1))
        ids = []
        for ref in ("short", "long"):
            ids.append(noticed_finding(app, T0 + timedelta(days=365), client_ref=ref))
        short, long = ids
        app.submit(short, evidence=["photo"], note="", actor="u1", now=T0)
        app.recheck(short, passed=True, note="合格", actor="a1", now=T0)
        t = T0
        while len(app.hazard_events(long)) < n:
            t += timedelta(minutes=1)
            clock.set(t)
            app.submit(long, evidence=["photo"], note="", actor="u1", now=t)
            t += timedelta(minutes=1)
            clock.set(t)
            app.recheck(long, passed=False, note="不合格", actor="a1", now=t)
        events = len(app.hazard_events(long))
        middle = T0 + (t - T0) / 2
        base = latencies(lambda: app.hazard(short, as_of=T0), REPEAT)
        late = latencies(lambda: app.hazard(long, as_of=t), REPEAT)
        mid = latencies(lambda: app.hazard(long, as_of=middle), REPEAT)
    print(
        f"[{name}] item with {events:,} events: as of its end p50 {pct(late, 50):.2f} ms,"
        f" p99 {pct(late, 99):.2f} ms; as of its middle p50 {pct(mid, 50):.2f} ms,"
        f" p99 {pct(mid, 99):.2f} ms; item with 5 events p99 {pct(base, 99):.2f} ms"
    )
    report(
        f"[{name}] as-of p99, {events:,} events vs 5",
        max(pct(late, 99), pct(mid, 99)),
        pct(base, 99),
        "ms",
        "p99 < 5 ms",
    )


def main() -> None:
    args = arguments(__doc__ or "", 2000, "events of the long-lived item")
    on_each_store(args, bench)


if __name__ == "__main__":
    main()
