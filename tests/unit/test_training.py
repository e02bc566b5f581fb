"""Urgent timers on the Hazard, certificate reminders and the policy's new keys (no I/O)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from domain.errors import IllegalTransition, InvalidCommand
from domain.hazard import Hazard
from domain.policy import SitePolicy
from domain.training import Certification
from tests.unit.test_hazard import T0, reported

TIMERS = SitePolicy().urgent_timers


def urgent() -> Hazard:
    h = reported()
    h.mark_urgent(timers=TIMERS, actor="o1", now=T0)
    return h


def test_urgent_timers_run_from_the_filing_in_the_order_they_fall_due() -> None:
    h = urgent()
    assert [(t["name"], t["due"]) for t in h.timers] == [
        ("acknowledged", T0 + timedelta(minutes=5)),
        ("responsible", T0 + timedelta(minutes=30)),
        ("first_measure", T0 + timedelta(minutes=60)),
    ]
    h.mark_urgent(timers=TIMERS, actor="o1", now=T0 + timedelta(minutes=1))
    assert sum(isinstance(e, Hazard.MarkedUrgent) for e in h.pending_events) == 1


def test_a_timer_run_out_is_escalated_once_and_the_next_one_later() -> None:
    h = urgent()
    assert h.miss_timers(now=T0 + timedelta(minutes=5), copies=["d1"], actor="system") == 0
    assert h.miss_timers(now=T0 + timedelta(minutes=6), copies=["d1"], actor="system") == 1
    assert h.miss_timers(now=T0 + timedelta(minutes=7), copies=["d1"], actor="system") == 0
    missed = [e for e in h.pending_events if isinstance(e, Hazard.TimerMissed)]
    assert [(e.name, e.next_due) for e in missed] == [("acknowledged", T0 + timedelta(minutes=30))]
    assert h.next_timer_due() == T0 + timedelta(minutes=30)


def test_commands_meet_timers_and_a_later_step_meets_the_earlier_ones() -> None:
    h = urgent()
    h.screen(grade="general", department="CM1", actor="o1", now=T0 + timedelta(minutes=3))
    met = {t["name"]: t["met_at"] for t in h.timers}
    assert met == {
        "acknowledged": T0 + timedelta(minutes=3),
        "responsible": None,
        "first_measure": None,
    }
    h.respond(step="first_measure", note="撤人", actor="u1", now=T0 + timedelta(minutes=40))
    assert all(t["met_at"] is not None for t in h.timers)
    assert h.next_timer_due() is None
    assert h.miss_timers(now=T0 + timedelta(hours=5), copies=[], actor="system") == 0
    met_events = [e for e in h.pending_events if isinstance(e, Hazard.TimerMet)]
    assert [e.name for e in met_events] == ["acknowledged", "responsible", "first_measure"]
    assert met_events[-1].next_due is None


def test_respond_refuses_an_unknown_step_or_a_plain_item() -> None:
    with pytest.raises(InvalidCommand):
        urgent().respond(step="nonsense", note="", actor="o1", now=T0)
    with pytest.raises(InvalidCommand):
        reported().respond(step="acknowledged", note="", actor="o1", now=T0)
    h = urgent()
    h.void(reason="误报", actor="o1", now=T0 + timedelta(minutes=1))
    with pytest.raises(IllegalTransition):
        h.respond(step="acknowledged", note="", actor="o1", now=T0 + timedelta(minutes=2))
    assert h.miss_timers(now=T0 + timedelta(hours=2), copies=[], actor="system") == 0


def test_certificate_reminders_once_each_and_the_nearest_when_late() -> None:
    expires = T0 + timedelta(days=40)
    c = Certification._create(
        Certification.Recorded,
        id=uuid4(),
        person="w1",
        certificate_type="电工作业操作证",
        number="T-1",
        issued_at=T0 - timedelta(days=700),
        expires_at=expires,
        actor="admin",
        occurred_at=T0,
        timestamp=T0,
    )
    days = (30, 7)
    assert c.reminder_due(expires - timedelta(days=31), days) is None
    assert c.reminder_due(expires - timedelta(days=30), days) == 30
    # a tick that comes late (within the last week) sends only the 7-day reminder
    assert c.reminder_due(expires - timedelta(days=6), days) == 7
    assert c.reminder_due(expires, days) is None
    assert c.lapsed_at(expires)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("urgent_timers", [{"name": "a", "minutes": 0}]),
        ("urgent_timers", [{"name": "a", "minutes": 5}, {"name": "a", "minutes": 6}]),
        ("urgent_timers", [{"name": "a", "minutes": 5, "met_by": ["explode"]}]),
        ("urgent_timers", [{"name": "a", "minutes": 5, "colour": "red"}]),
        ("certificate_reminder_days", [30, -1]),
        ("shift_starts", ["25:00"]),
        ("shift_starts", ["eight"]),
    ],
)
def test_the_policy_refuses_bad_settings(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        SitePolicy.from_mapping({key: value})


def test_shift_starts_are_site_times() -> None:
    # T0 is 08:00 in Asia/Shanghai; the day's shifts start at 00:00, 08:00 and 16:00 there
    starts = SitePolicy().shift_starts_around(T0, days=0)
    assert [s.isoformat() for s in starts] == [
        "2026-11-02T00:00:00+08:00",
        "2026-11-02T08:00:00+08:00",
        "2026-11-02T16:00:00+08:00",
    ]
