"""APScheduler 3 wiring: jobs coalesce and never overlap.

Jobs: the tick (missed deadlines, re-notices, reminders) every ``tick_interval_seconds``;
the outbox sender every ``outbox_interval_seconds``; the daily digest at ``digest_time``
in the site's timezone (and once at start, to catch up on a digest missed while down).
Each job runs only while this process holds the lease (see jobs/lease.py); each is safe
to run twice, so correctness never depends on the lease.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any, TypeVar

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from domain.application import SafeLoop
from jobs.digest import run_digest
from jobs.lease import AlwaysHeld, Lease
from jobs.sender import Sender
from jobs.tick import run_tick
from projections.store import UNAVAILABLE_ERRORS, ViewStore

log = logging.getLogger("safeloop.jobs")

R = TypeVar("R")


def guarded(lease: Lease, job: Callable[..., R]) -> Callable[..., R | None]:
    """Run ``job`` only while holding the lease."""

    def run(*args: Any) -> R | None:
        try:
            if not lease.held():
                return None
        except UNAVAILABLE_ERRORS:
            return None
        return job(*args)

    run.__name__ = getattr(job, "__name__", "job")
    return run


def run_sender(sender: Sender) -> None:
    try:
        sender.run_once()
    except UNAVAILABLE_ERRORS as e:
        log.warning("outbox pass skipped: store unavailable", extra={"error": str(e)})


def make_scheduler(
    app: SafeLoop,
    clock: Callable[[], datetime],
    tick_interval_seconds: int,
    *,
    store: ViewStore | None = None,
    sender: Sender | None = None,
    outbox_interval_seconds: int = 10,
    digest_time: time | None = None,
    lease: Lease | None = None,
    blocking: bool = False,
) -> BackgroundScheduler | BlockingScheduler:
    lease = lease or AlwaysHeld()
    scheduler_class = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = scheduler_class(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    scheduler.add_job(
        guarded(lease, run_tick),
        "interval",
        seconds=tick_interval_seconds,
        args=[app, clock],
        id="tick",
        name="tick: overdue handling, re-notices and reminders",
        next_run_time=clock(),
    )
    if sender is not None:
        scheduler.add_job(
            guarded(lease, run_sender),
            "interval",
            seconds=outbox_interval_seconds,
            args=[sender],
            id="outbox",
            name="outbox: deliver notifications",
            next_run_time=clock(),
        )
    if store is not None and digest_time is not None:
        scheduler.add_job(
            guarded(lease, run_digest),
            "cron",
            hour=digest_time.hour,
            minute=digest_time.minute,
            timezone=app.policy.zone,
            args=[app, store, clock, digest_time],
            id="digest",
            name="digest: the daily summary",
            next_run_time=clock(),
        )
    scheduler.add_listener(lambda _: lease.release(), mask=EVENT_SCHEDULER_SHUTDOWN)
    return scheduler
