"""A standby that takes the scheduler lease over runs the other jobs at once: the tick does
not wait a whole interval, and the digest whose time passed while the dead holder had the
lease is issued (the standby's own run at that minute had been refused)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from jobs.digest import due_day
from jobs.scheduler import Guard, make_scheduler
from safeloop.notify import build_sender
from safeloop.system import System
from tests.conftest import FakeClock


class SwitchedLease:
    """A lease the test hands over by hand; counts the tries."""

    def __init__(self) -> None:
        self.free = threading.Event()
        self.tries = 0

    def held(self) -> bool:
        self.tries += 1
        return self.free.is_set()

    def release(self) -> None:
        pass


def test_the_guard_wakes_the_other_jobs_only_on_a_takeover() -> None:
    lease = SwitchedLease()
    woken: list[str] = []
    ran: list[str] = []
    guard = Guard(lease, woken.append)
    tick, outbox = guard.wrap("tick", ran.append), guard.wrap("outbox", ran.append)
    guard.wrap("digest", ran.append)

    assert tick("tick") is None and outbox("outbox") is None  # standing by
    assert ran == [] and woken == []
    lease.free.set()  # the holder died
    outbox("outbox")
    assert ran == ["outbox"] and woken == ["tick", "digest"]  # the takeover wakes the others
    tick("tick")
    outbox("outbox")
    assert ran == ["outbox", "tick", "outbox"] and woken == ["tick", "digest"]  # held: no wake

    first = Guard(SwitchedLease(), woken.append)  # a holder from the start wakes nothing
    assert isinstance(first.lease, SwitchedLease)
    first.lease.free.set()
    first.wrap("tick", ran.append)("tick")
    first.wrap("outbox", ran.append)("outbox")
    assert woken == ["tick", "digest"]


def test_a_standby_taking_over_ticks_and_issues_the_missed_digest_at_once(
    system: System, clock: FakeClock
) -> None:
    """The standby's tick interval and the digest's next time are about a day away: only the
    takeover (through the outbox job, every second) can run them within the test. (The
    scheduler runs on real time, so the site clock is set to it.)"""
    now = datetime.now(UTC).replace(microsecond=0)
    clock.set(now)
    # the digest's time passed an hour ago on the site's clock, while the other process held
    # the lease: the day before is due
    at = (now.astimezone(system.policy.zone) - timedelta(hours=1)).time().replace(second=0)
    day = due_day(now, system.policy.zone, at)
    lease = SwitchedLease()
    ticks: list[datetime] = []
    app = system.app
    tick = app.tick

    def counted_tick(now: datetime, batch_size: int = 500) -> object:
        ticks.append(now)
        return tick(now, batch_size)

    app.tick = counted_tick  # type: ignore[method-assign]
    scheduler = make_scheduler(
        app,
        clock,
        24 * 3600,
        store=system.store,
        sender=build_sender(system),
        outbox_interval_seconds=1,
        digest_time=at,
        lease=lease,
    )
    scheduler.start()
    try:
        wait_for(lambda: lease.tries >= 3, "the jobs to try the lease at start")
        assert ticks == [] and app.digest(day) is None  # standing by: nothing ran
        lease.free.set()
        wait_for(lambda: ticks and app.digest(day) is not None, "the takeover's tick and digest")
        assert len(ticks) == 1
    finally:
        scheduler.shutdown(wait=True)


def wait_for(condition: object, what: str, seconds: float = 30) -> None:
    """Waits for the scheduler's threads (not for time to pass)."""
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
