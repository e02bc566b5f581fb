"""Two scheduler processes over 1,000 overdue items, one killed mid-tick: exactly one handling
opinion and one re-notice per item and overdue period; nothing half-written; read models equal
a rebuild. (Each scheduler is `safeloop serve --scheduler`, ticking every second.)"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from domain.hazard import Hazard
from domain.sequence import NumberSequence
from safeloop.settings import Settings
from safeloop.system import build_system
from tests.conftest import ORG, FakeClock
from tests.faults.checks import (
    assert_nothing_half_written,
    assert_read_models_equal_a_rebuild,
    count_events,
)
from tests.faults.procs import Server, store_env, wait_until

ITEMS = 1000
#: the first scheduler is killed as soon as handling shows: a tick saves 50 items per
#: transaction, so 1,000 items take only a second or two
KILL_AFTER = 1


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_schedulers_one_killed_mid_tick(kind: str, tmp_path: Path) -> None:
    with store_env(kind, tmp_path) as (env, settings):
        load_org(settings)
        env = {**env, "SAFELOOP_TICK_INTERVAL_SECONDS": "1"}
        first = Server(env, tmp_path / "first.log", scheduler=True)
        second = Server(env, tmp_path / "second.log", scheduler=True)
        system = build_system(settings)
        try:
            # both schedulers up and idle before anything is due: the items appear in one
            # save, so both ticks meet all 1,000 at once (written before the servers started,
            # the first server's start-up tick handled them all before the second was up)
            first.start()
            second.start()
            ids = overdue_items(settings)

            def handled() -> int:
                return count_events(system, Hazard.ReNoticed)

            wait_until(lambda: handled() >= KILL_AFTER, "the schedulers to handle", 120, 0.01)
            first.kill()
            at_kill = handled()
            assert at_kill < ITEMS, "the first scheduler was still in its tick when killed"
            wait_until(lambda: handled() >= ITEMS, "the second scheduler to finish", 300, 0.5)
            second.stop()
        finally:
            first.kill()
            second.stop()
            system.close()

        system = build_system(settings)
        try:
            assert_nothing_half_written(system)
            for hid in ids:
                events = system.app.hazard_events(hid)
                opinions = [e.period for e in events if isinstance(e, Hazard.HandlingOpinionIssued)]
                renotices = [e.period for e in events if isinstance(e, Hazard.ReNoticed)]
                assert opinions == renotices == [1], (hid, [type(e).__name__ for e in events])
            assert_read_models_equal_a_rebuild(system)
        finally:
            system.close()


def load_org(settings: Settings) -> None:
    past = datetime.now(UTC) - timedelta(hours=3)
    system = build_system(settings, clock=FakeClock(past))
    try:
        system.app.load_org(copy.deepcopy(ORG), actor="admin", now=past)
    finally:
        system.close()


def overdue_items(settings: Settings) -> list[UUID]:
    """ITEMS items noticed two hours ago with a deadline an hour ago (real time, which the
    servers' schedulers use). Built directly with the aggregates and saved in one save,
    with the day's counter, to keep the set-up short and make them all due at once."""
    now = datetime.now(UTC)
    past = now - timedelta(hours=2)
    system = build_system(settings, clock=FakeClock(past))
    try:
        org = system.app.org()
        day = f"{system.policy.local_date(past):%Y%m%d}"
        sequence = NumberSequence.start(f"hazard:{day}", past)
        ids: list[UUID] = []
        batch = []
        for _ in range(ITEMS):
            hazard = Hazard.report(
                hazard_id=uuid4(),
                number=f"YH-{day}-{sequence.next(past):04d}",
                kind="hazard",
                description="皮带机尾积煤",
                location="2202运输顺槽",
                reporter="w1",
                reporter_role="worker",
                occurred_at=past,
                department=None,
                client_ref=None,
                actor="w1",
                now=past,
            )
            hazard.screen(grade="general", department="CM1", actor="o1", now=past)
            hazard.issue_notice(
                responsible_person="u1",
                measures="清理积煤",
                funds=Decimal(0),
                deadline=now - timedelta(hours=1),
                contingency="停机",
                unit_head="u1",
                copies=org.resolve_copies(system.policy.notice_copies, "CM1"),
                actor="o1",
                now=past,
            )
            batch.append(hazard)
            ids.append(hazard.id)
        system.app.save(sequence, *batch)
        system.runner.catch_up()
        return ids
    finally:
        system.close()
