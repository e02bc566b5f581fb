"""Reminders, inbox receipts, the digest and message texts, without I/O (fixed instants)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from domain.application import SafeLoop
from domain.digest import DIGEST_ROLES
from domain.errors import InvalidCommand
from domain.hazard import Hazard
from domain.policy import SitePolicy
from jobs.digest import due_day
from projections.messages import render
from tests.unit.test_application import T0, file, notice
from tests.unit.test_application import app as app
from tests.unit.test_hazard import noticed


def reminders(h: Hazard) -> list[float]:
    return [e.offset_hours for e in h.collect_events() if isinstance(e, Hazard.ReminderIssued)]


def test_each_reminder_is_issued_once_per_deadline() -> None:
    deadline = T0 + timedelta(hours=50)  # set at T0+2h: both 24 h and 2 h reminders apply
    h = noticed(deadline)
    offsets = (24, 2)
    assert h.reminder_due(deadline - timedelta(hours=25), offsets) is None
    at = deadline - timedelta(hours=24)
    assert h.issue_reminder(now=at, offsets_hours=offsets, recipients=["u1"], actor="system")
    assert not h.issue_reminder(now=at, offsets_hours=offsets, recipients=["u1"], actor="system")
    assert h.reminder_due(deadline - timedelta(hours=3), offsets) is None
    at = deadline - timedelta(hours=1)
    assert h.issue_reminder(now=at, offsets_hours=offsets, recipients=["u1"], actor="system")
    assert h.reminder_due(deadline - timedelta(minutes=1), offsets) is None
    assert h.reminder_due(deadline, offsets) is None  # the deadline itself: overdue, not reminded
    assert reminders(h) == [24.0, 2.0]


def test_a_late_tick_issues_only_the_nearest_reminder() -> None:
    deadline = T0 + timedelta(hours=50)
    h = noticed(deadline)
    late = deadline - timedelta(hours=1)  # the scheduler was down through the 24 h mark
    assert h.issue_reminder(now=late, offsets_hours=(24, 2), recipients=[], actor="system")
    assert h.reminder_due(late + timedelta(minutes=1), (24, 2)) is None
    assert reminders(h) == [2.0]


def test_no_reminder_for_a_mark_before_the_notice_and_a_new_deadline_starts_again() -> None:
    h = noticed(T0 + timedelta(hours=12))  # set at T0+2h: the 24 h mark was before the notice
    assert h.reminder_due(T0 + timedelta(hours=3), (24, 2)) is None
    assert h.reminder_due(T0 + timedelta(hours=10), (24, 2)) == 2
    h.issue_reminder(now=T0 + timedelta(hours=10), offsets_hours=(24, 2), recipients=[], actor="s")
    h.request_extension(
        requested_deadline=T0 + timedelta(hours=60), reason="备件", actor="u1", now=T0
    )
    h.decide_extension(granted=True, note="", actor="o1", now=T0 + timedelta(hours=11))
    assert h.reminder_due(T0 + timedelta(hours=36), (24, 2)) == 24
    h.submit(evidence=["照片"], note="", actor="u1", now=T0 + timedelta(hours=37))
    assert h.reminder_due(T0 + timedelta(hours=59), (24, 2)) is None  # no deadline runs


def test_tick_reminds_the_responsible_person_and_unit_head(app: SafeLoop) -> None:
    hid = file(app)
    deadline = T0 + timedelta(hours=30)
    notice(app, hid, deadline)
    first = app.tick(deadline - timedelta(hours=24))
    again = app.tick(deadline - timedelta(hours=24))
    assert (first.reminded, again.reminded) == (1, 0)
    event = [e for e in app.hazard_events(hid) if isinstance(e, Hazard.ReminderIssued)][0]
    assert event.recipients == ["u1"] and event.offset_hours == 24 and event.deadline == deadline
    assert app.tick(deadline - timedelta(hours=2)).reminded == 1


def test_only_the_recipient_acknowledges_and_a_repeat_records_nothing(
    app: SafeLoop,
) -> None:
    item = uuid4()
    read = app.mark_read(item, person="d1", now=T0)
    ack = app.acknowledge(item, person="d1", now=T0 + timedelta(minutes=5))
    again = app.acknowledge(item, person="d1", now=T0 + timedelta(minutes=9))
    assert read.created and ack.created and not again.created and again.position is None
    receipt = app.receipt(item)
    assert receipt is not None
    assert receipt.read_at == T0 and receipt.acknowledged_at == T0 + timedelta(minutes=5)
    with pytest.raises(InvalidCommand):
        app.acknowledge(item, person="l1", now=T0 + timedelta(minutes=10))


def test_the_digest_is_issued_once_per_site_day_to_the_office_and_leaders(
    app: SafeLoop,
) -> None:
    day = T0.date()
    first = app.issue_digest(day, summary={"new": 3}, now=T0)
    again = app.issue_digest(day, summary={"new": 4}, now=T0 + timedelta(minutes=1))
    assert first.created and not again.created
    digest = app.digest(day)
    assert digest is not None and digest.summary == {"new": 3}
    org = app.org()
    expected = {pid for role in DIGEST_ROLES for pid in org.people_with_role(role)}
    assert set(digest.recipients) == expected == {"o1", "c1", "d1", "d2", "l1"}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 23:10 UTC on the 2nd is 07:10 on the 3rd in Shanghai: before 07:30, so the 1st
        (datetime(2026, 11, 2, 23, 10, tzinfo=UTC), "2026-11-01"),
        # 23:40 UTC on the 2nd is 07:40 on the 3rd: the 2nd's digest is due (UTC date lags)
        (datetime(2026, 11, 2, 23, 40, tzinfo=UTC), "2026-11-02"),
        # 16:30 UTC on the 2nd is 00:30 on the 3rd: before 07:30, so still the 1st
        (datetime(2026, 11, 2, 16, 30, tzinfo=UTC), "2026-11-01"),
        (datetime(2026, 11, 3, 0, 0, tzinfo=UTC), "2026-11-02"),
    ],
)
def test_the_digest_due_is_counted_in_site_days(now: datetime, expected: str) -> None:
    assert due_day(now, SitePolicy().zone, time(7, 30)).isoformat() == expected


def test_messages_leave_out_photo_references() -> None:
    photo = "photo:" + "ab" * 32 + ".png"
    facts = {
        "number": "YH-20261102-0001",
        "location": "1301回风顺槽",
        "description": f"顶板离层 {photo}",
    }
    for language in ("zh", "en"):
        message = render("notice", language, facts, ZoneInfo("Asia/Shanghai"))
        assert "photo:" not in message.title and "photo:" not in message.body
        assert "顶板离层" in message.title and "顶板离层" in message.body
