"""APScheduler 3 wiring: jobs coalesce and never overlap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from domain.application import SafeLoop
from jobs.tick import run_tick


def make_scheduler(
    app: SafeLoop, clock: Callable[[], datetime], tick_interval_seconds: int
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    scheduler.add_job(
        run_tick,
        "interval",
        seconds=tick_interval_seconds,
        args=[app, clock],
        id="tick",
        name="tick: overdue handling and re-notices",
        next_run_time=clock(),
    )
    return scheduler
