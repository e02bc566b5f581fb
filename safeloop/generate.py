"""A realistic synthetic history for benchmarks and trials (``safeloop generate``).

The demo's simulation at any size: findings filed over ``days`` ending now, each with a fate
drawn from a seeded random generator (screened and graded, noticed, submitted on time or late,
extended, rechecked — sometimes failing —, fixed on the spot, voided or merged), and an hourly
tick that issues handling opinions and re-notices for missed deadlines. Everything goes
through the Application, with the events recorded at their simulated times. The demo
organisation is loaded first when the store has none.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from safeloop.demo import _filer, _Sim, demo_org
from safeloop.system import System


@dataclass(frozen=True)
class Generated:
    items: int
    events: int
    skipped: int  # simulated commands the domain refused (e.g. a submit after a merge)


def generate(
    system: System,
    *,
    items: int,
    days: int,
    seed: int,
    progress: Callable[[int], None] = lambda _: None,
) -> Generated:
    """Simulate ``items`` findings over ``days`` days ending now; ``progress(1)`` per filing."""
    rng = random.Random(seed)
    app = system.app
    now = system.now()
    start = now - timedelta(days=days)
    head = app.head()
    sim = _Sim(system, rng, end=now)
    sim.current = start - timedelta(days=1)
    if not app.org().departments:
        sim.at(sim.current, lambda at: app.load_org(demo_org(), actor="admin", now=at))
    times = sorted(start + timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(items))
    for i, when in enumerate(times):
        sim.at(when, _counted(_filer(sim, i, ref=f"gen{seed}"), progress))
    sim.run()
    system.runner.catch_up()
    return Generated(items, app.head() - head, sim.errors)


def _counted(
    file: Callable[[datetime], None], progress: Callable[[int], None]
) -> Callable[[datetime], None]:
    def run(now: datetime) -> None:
        try:
            file(now)
        finally:
            progress(1)

    return run
