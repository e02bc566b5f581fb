"""The scheduler lease on PostgreSQL: one holder at a time, a standby takes over when the
holder dies. (Correctness never depends on it: see the two-scheduler day test.)"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import uuid

import psycopg
import pytest

from jobs.lease import AdvisoryLease, AlwaysHeld
from jobs.scheduler import guarded
from tests.conftest import PG_URL, pg_info, require_postgres
from tests.integration.sender_child import hold_lease

pytestmark = pytest.mark.postgres


def wait_until(check: object, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_one_holder_and_a_standby_takes_over_when_its_connection_dies() -> None:
    require_postgres()
    name = f"test-{uuid.uuid4().hex}"
    first, second = AdvisoryLease(pg_info(), name), AdvisoryLease(pg_info(), name)
    try:
        assert first.held() and not second.held() and first.held()
        ran: list[str] = []
        assert guarded(second, ran.append)("standby") is None and ran == []
        assert guarded(first, ran.append)("leader") is None and ran == ["leader"]
        with psycopg.connect(PG_URL, autocommit=True) as admin:  # the holder's session dies
            admin.execute("SELECT pg_terminate_backend(%s)", (first.backend_pid,))
        assert wait_until(second.held)
        assert not first.held()  # it notices the loss and stands by
    finally:
        first.release()
        second.release()
    assert guarded(AlwaysHeld(), ran.append)("sqlite") is None and ran[-1] == "sqlite"


def test_a_killed_scheduler_process_releases_the_lease() -> None:
    require_postgres()
    name = f"test-{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")
    parent, child_end = context.Pipe()
    child = context.Process(target=hold_lease, args=(pg_info(), name, child_end))
    child.start()
    standby = AdvisoryLease(pg_info(), name)
    try:
        assert parent.poll(60) and parent.recv() is True
        assert not standby.held()
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
        assert wait_until(standby.held)
    finally:
        if child.is_alive():
            child.kill()
        standby.release()
