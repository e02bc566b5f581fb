"""APScheduler 3 wiring: jobs coalesce and never overlap.

Jobs: the tick (missed deadlines, re-notices, reminders) every ``tick_interval_seconds``;
the outbox sender every ``outbox_interval_seconds``; the daily digest at ``digest_time``
in the site's timezone (and once at start, to catch up on a digest missed while down).
Each job runs only while this process holds the lease (see jobs/lease.py); each is safe
to run twice, so correctness never depends on the lease. A standby that takes the lease over
(through whichever of its jobs comes first) runs the other jobs at once: the tick does not
wait a whole interval, and a digest whose time passed while the dead holder had the lease
(the standby's own run at that minute was refused) is issued, not lost until the next day.
"""

from __future__ import annotations

import logging
import threading
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


class Guard:
    """Runs a scheduler's jobs only while it holds the lease; calls ``wake(job_id)`` for each
    other job (not running just then) when this process takes the lease after standing by."""

    def __init__(self, lease: Lease, wake: Callable[[str], None]) -> None:
        self.lease = lease
        self.wake = wake
        self._lock = threading.Lock()
        self._jobs: list[str] = []
        self._running: set[str] = set()
        #: None until the first try: the jobs all run at start anyway
        self._held: bool | None = None

    def wrap(self, job_id: str, job: Callable[..., R]) -> Callable[..., R | None]:
        self._jobs.append(job_id)

        def run(*args: Any) -> R | None:
            with self._lock:
                self._running.add(job_id)
            try:
                try:
                    held = self.lease.held()
                except UNAVAILABLE_ERRORS:
                    held = False
                with self._lock:
                    taken_over = held and self._held is False
                    self._held = held
                    others = [j for j in self._jobs if j != job_id and j not in self._running]
                if taken_over:
                    for other in others:
                        self.wake(other)
                return job(*args) if held else None
            finally:
                with self._lock:
                    self._running.discard(job_id)

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

    def wake(job_id: str) -> None:
        log.info("scheduler lease taken over: running %s now", job_id)
        scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    guard = Guard(lease, wake)
    scheduler.add_job(
        guard.wrap("tick", run_tick),
        "interval",
        seconds=tick_interval_seconds,
        args=[app, clock],
        id="tick",
        name="tick: overdue handling, re-notices and reminders",
        next_run_time=clock(),
    )
    if sender is not None:
        scheduler.add_job(
            guard.wrap("outbox", run_sender),
            "interval",
            seconds=outbox_interval_seconds,
            args=[sender],
            id="outbox",
            name="outbox: deliver notifications",
            next_run_time=clock(),
        )
    if store is not None and digest_time is not None:
        scheduler.add_job(
            guard.wrap("digest", run_digest),
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
