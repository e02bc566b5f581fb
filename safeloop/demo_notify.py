"""The demo's notifications: leaders and unit heads who read and acknowledged some of what
they were sent, and the daily digests of the last week (so inboxes and digests are not empty).

Run after the simulated history, with events recorded at the simulated times.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from uuid import UUID

from jobs.digest import issue_digest
from projections import notifications
from projections.timefmt import parse
from safeloop.system import System

#: who in the demo reads their inbox: the leaders and the unit heads
READERS = ("L01", "L02", "L03", "L04", "L05", "L06", "ZC1-1", "JJ1-1", "JD-1", "TF-1", "X01")
DIGEST_DAYS = 7
DIGEST_TIME = time(7, 30)


def demo_notifications(system: System, *, seed: int, now: datetime) -> tuple[int, int]:
    """Issue the last week's digests and some receipts; return (digests, acknowledgements)."""
    app = system.app
    rng = random.Random(seed)
    real_clock = app.recording_clock
    current = now
    app.recording_clock = lambda: current
    digests = acks = 0
    try:
        system.runner.catch_up()
        zone = system.policy.zone
        today = system.policy.local_date(now)
        for back in range(DIGEST_DAYS, 0, -1):
            day = today - timedelta(days=back)
            current = datetime.combine(day + timedelta(days=1), DIGEST_TIME, tzinfo=zone)
            if current < now and issue_digest(app, system.store, day, current):
                digests += 1
        system.runner.catch_up()
        for person in READERS:
            items, _ = notifications.inbox(system.store, person, limit=200)
            for item in items:
                created = parse(item["created_at"])
                assert created is not None
                roll = rng.random()
                if roll > 0.75:
                    continue  # not opened yet
                current = min(now, created + timedelta(hours=rng.uniform(0.2, 20)))
                item_id = UUID(item["id"])
                if roll < 0.5 and item["kind"] in ("escalation", "copy", "notice", "digest"):
                    app.acknowledge(item_id, person=person, now=current)
                    acks += 1
                else:
                    app.mark_read(item_id, person=person, now=current)
    finally:
        app.recording_clock = real_clock
    system.runner.catch_up()
    return digests, acks
