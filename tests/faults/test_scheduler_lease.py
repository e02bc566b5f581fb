"""Two standalone `safeloop scheduler` processes on PostgreSQL (production's set-up) over 1,000
overdue items: the first holds the lease and handles, the other stands by; the first is
SIGKILLed mid-tick; the standby takes the lease within a minute and finishes. Exactly one
handling opinion and one re-notice per item and overdue period; nothing half-written; read
models equal a rebuild. The intervals are the defaults (tick 60 s, outbox 10 s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.hazard import Hazard
from safeloop.system import build_system
from tests.faults.checks import (
    assert_nothing_half_written,
    assert_read_models_equal_a_rebuild,
    count_events,
    log_events,
)
from tests.faults.procs import Scheduler, store_env, wait_until
from tests.faults.test_schedulers import ITEMS, KILL_AFTER, overdue_items

TAKEN = "scheduler lease taken:"
STANDS_BY = "this process stands by"
#: issue 4: "the others stand by and take over within a minute if it dies"
TAKEOVER_BOUND = timedelta(minutes=1)


@pytest.mark.postgres
def test_the_standby_scheduler_takes_over_when_the_holder_is_killed_mid_tick(
    tmp_path: Path,
) -> None:
    with store_env("postgres", tmp_path) as (env, settings):
        system = build_system(settings)  # the schema, before the processes start
        holder = Scheduler(env, tmp_path / "holder.log")
        standby = Scheduler(env, tmp_path / "standby.log")

        def handled() -> int:
            return count_events(system, Hazard.ReNoticed)

        try:
            holder.start(until=TAKEN)  # its first tick (at start) finds nothing due
            standby.start(until=STANDS_BY)
            # the items come now, overdue: the holder's next tick (a minute after its start)
            # finds all of them; the standby's ticks are refused
            ids = overdue_items(settings)
            wait_until(lambda: handled() >= KILL_AFTER, "the holder to handle items", 120)
            # the standby has done nothing so far: the holder alone handled these
            assert TAKEN not in standby.logs(), standby.logs()
            killed_at = datetime.now(UTC)
            holder.kill()
            at_kill = handled()
            assert at_kill < ITEMS, "the holder had finished its tick before it was killed"
            wait_until(
                lambda: TAKEN in standby.logs(),
                "the standby to take the lease over",
                TAKEOVER_BOUND.total_seconds(),
            )
            wait_until(lambda: handled() >= ITEMS, "the standby to finish", 300, 0.5)
            standby.stop()
        finally:
            holder.kill()
            standby.stop()
            system.close()

        holder_log, standby_log = holder.logs(), standby.logs()
        assert holder_log.count(TAKEN) == 1 and STANDS_BY not in holder_log, holder_log
        # the standby stood by once, took the lease once, after the kill, and crashed nowhere
        assert standby_log.count(STANDS_BY) == 1 and standby_log.count(TAKEN) == 1, standby_log
        assert standby_log.index(STANDS_BY) < standby_log.index(TAKEN)
        assert "Traceback" not in standby_log and "stopping the scheduler" in standby_log

        system = build_system(settings)
        try:
            assert_nothing_half_written(system)
            for hid in ids:
                events = system.app.hazard_events(hid)
                opinions = [e.period for e in events if isinstance(e, Hazard.HandlingOpinionIssued)]
                renotices = [e.period for e in events if isinstance(e, Hazard.ReNoticed)]
                assert opinions == renotices == [1], (hid, [type(e).__name__ for e in events])
            # what the log says happened when: the holder's re-notices were all recorded before
            # the kill, the standby's all after it, and it began within a minute of it
            renoticed = [e for _, e in log_events(system) if isinstance(e, Hazard.ReNoticed)]
            before = [e for e in renoticed if e.timestamp < killed_at]
            after = sorted(e.timestamp for e in renoticed if e.timestamp > killed_at)
            assert len(before) == at_kill and len(after) == ITEMS - at_kill
            assert len({e.occurred_at for e in before}) == 1  # killed inside its one tick
            assert after[0] - killed_at <= TAKEOVER_BOUND, (killed_at, after[0])
            assert_read_models_equal_a_rebuild(system)
        finally:
            system.close()
