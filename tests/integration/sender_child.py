"""A sender in its own process (so a test can kill it with SIGKILL mid-batch)."""

from __future__ import annotations

from datetime import datetime

from safeloop.notify import build_sender
from safeloop.settings import Settings
from safeloop.system import build_system


def run_sender(settings: Settings, now: str) -> None:
    instant = datetime.fromisoformat(now)
    system = build_system(settings, clock=lambda: instant)
    try:
        build_sender(system, sleep=lambda _: None).run_once()
    finally:
        system.close()


def hold_lease(conninfo: dict[str, object], name: str, ready: object) -> None:
    """Take the scheduler lease, say so, and wait to be killed."""
    import time

    from jobs.lease import AdvisoryLease

    lease = AdvisoryLease(conninfo, name)
    ready.send(lease.held())  # type: ignore[attr-defined]
    while True:
        time.sleep(1)
