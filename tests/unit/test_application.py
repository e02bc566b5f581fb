"""The Application over the in-memory store (no I/O): filing, numbering, org, tick, tokens."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from domain.application import SafeLoop
from domain.errors import IllegalTransition, InvalidCommand, NotFound, VersionConflict
from domain.hazard import Hazard, S
from domain.organisation import Organisation
from domain.policy import SitePolicy
from tests.conftest import ORG

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


class ListDue:
    """A DueItems port over the app itself (what the deadlines read model answers)."""

    def __init__(self, app: SafeLoop) -> None:
        self.app = app
        self.ids: list[UUID] = []

    def due(self, now, after, limit):  # type: ignore[no-untyped-def]
        rows = []
        for hid in self.ids:
            h = self.app.hazard(hid)
            if h.deadline is not None and h.deadline < now and h.state in ("NOTICED", "OVERDUE"):
                rows.append((h.deadline, hid))
        return self._page(rows, after, limit)

    def due_reminders(self, now, after, limit):  # type: ignore[no-untyped-def]
        offsets = self.app.policy.reminder_offsets_hours
        rows = []
        for hid in self.ids:
            h = self.app.hazard(hid)
            if h.reminder_due(now, offsets) is not None:
                rows.append((h.deadline, hid))
        return self._page(rows, after, limit)

    @staticmethod
    def _page(rows, after, limit):  # type: ignore[no-untyped-def]
        rows.sort(key=lambda r: (r[0], str(r[1])))
        if after is not None:
            rows = [r for r in rows if (r[0], str(r[1])) > (after[0], str(after[1]))]
        return rows[:limit]


@pytest.fixture
def app() -> Iterator[SafeLoop]:
    a = SafeLoop({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    a.due_items = a.due_reminders = ListDue(a)
    a.load_org(copy.deepcopy(ORG), actor="admin", now=T0 - timedelta(days=1))
    yield a
    a.close()


def file(app: SafeLoop, now: datetime = T0, **kw: object) -> UUID:
    args: dict[str, object] = {
        "kind": "hazard",
        "description": "回风巷瓦斯传感器吊挂位置不当",
        "location": "1301回风顺槽",
        "reporter": "w1",
        "reporter_role": "worker",
        "occurred_at": now - timedelta(minutes=10),
        "actor": "w1",
        "now": now,
    }
    args.update(kw)
    result = app.file_hazard(**args)  # type: ignore[arg-type]
    due = app.due_items
    assert isinstance(due, ListDue)
    due.ids.append(result.id)
    return result.id


def notice(app: SafeLoop, hid: UUID, deadline: datetime, now: datetime = T0) -> None:
    app.screen(hid, grade="general", department="CM1", actor="o1", now=now)
    app.issue_notice(
        hid,
        responsible_person="u1",
        measures="重新吊挂传感器",
        funds=Decimal("0"),
        deadline=deadline,
        contingency="撤人",
        actor="o1",
        now=now,
    )


def test_numbers_are_sequential_per_site_day_and_prefixed_by_kind(app: SafeLoop) -> None:
    a = app.hazard(file(app))
    b = app.hazard(file(app, kind="violation"))
    # 16:00 UTC is midnight in Asia/Shanghai: a new site day starts the count again
    c = app.hazard(file(app, now=T0 + timedelta(hours=16)))
    assert (a.number, b.number, c.number) == (
        "YH-20261102-0001",
        "SW-20261102-0002",
        "YH-20261103-0001",
    )


def test_a_repeated_client_ref_files_once(app: SafeLoop) -> None:
    first = app.file_hazard(
        kind="hazard",
        description="x",
        location="y",
        reporter="w1",
        reporter_role="worker",
        occurred_at=T0,
        client_ref="phone-42",
        actor="w1",
        now=T0,
    )
    again = app.file_hazard(
        kind="hazard",
        description="x",
        location="y",
        reporter="w1",
        reporter_role="worker",
        occurred_at=T0,
        client_ref="phone-42",
        actor="w1",
        now=T0 + timedelta(minutes=1),
    )
    assert first.created and not again.created
    assert again.id == first.id and again.version == 1
    assert app.head() == first.position


def test_unknown_people_and_departments_are_refused(app: SafeLoop) -> None:
    with pytest.raises(InvalidCommand) as info:
        file(app, reporter="nobody")
    assert info.value.field == "reporter"
    hid = file(app)
    with pytest.raises(InvalidCommand) as info:
        app.screen(hid, grade="general", department="NOPE", actor="o1", now=T0)
    assert info.value.field == "department"
    with pytest.raises(NotFound):
        app.screen(UUID(int=1), grade="general", department="CM1", actor="o1", now=T0)


def test_a_notice_copies_the_deputy_chief_and_leader_in_charge(app: SafeLoop) -> None:
    hid = file(app)
    notice(app, hid, T0 + timedelta(days=3))
    h = app.hazard(hid)
    assert h.notice is not None
    assert h.notice["copies"] == ["d1", "l1"] and h.notice["unit_head"] == "u1"


def test_default_deadline_comes_from_the_policy(app: SafeLoop) -> None:
    hid = file(app, kind="violation")
    app.screen(hid, grade="general", department="CM1", actor="o1", now=T0)
    app.issue_notice(
        hid,
        responsible_person="u1",
        measures="教育",
        funds=Decimal("0"),
        deadline=None,
        contingency="-",
        actor="o1",
        now=T0,
    )
    assert app.hazard(hid).deadline == T0 + timedelta(hours=8)


def test_tick_renotices_once_and_widens_copies_by_level(app: SafeLoop) -> None:
    hid = file(app)
    deadline = T0 + timedelta(days=1)
    notice(app, hid, deadline)
    first = app.tick(deadline + timedelta(hours=1))
    again = app.tick(deadline + timedelta(hours=1))
    assert (first.renoticed, again.renoticed) == (1, 0)
    h = app.hazard(hid)
    assert (h.state, h.overdue_periods, h.escalation_level) == (S.OVERDUE, 1, 1)
    renotice = [e for e in app.hazard_events(hid) if isinstance(e, Hazard.ReNoticed)]
    assert renotice[0].copies == ["u1", "d1", "l1"]
    assert h.deadline == deadline + timedelta(hours=1) + timedelta(hours=24)
    second = app.tick(deadline + timedelta(days=2))
    assert second.renoticed == 1
    renotice = [e for e in app.hazard_events(hid) if isinstance(e, Hazard.ReNoticed)]
    assert renotice[1].copies == ["u1", "d1", "l1", "c1"] and renotice[1].level == 2


def test_reaching_the_case_level_flags_the_item_once(app: SafeLoop) -> None:
    hid = file(app)
    deadline = T0 + timedelta(hours=1)
    notice(app, hid, deadline)
    at = deadline
    for _ in range(5):  # five missed deadlines in a row: levels 1..5
        at += timedelta(hours=25)
        assert app.tick(at).renoticed == 1
    events = app.hazard_events(hid)
    flags = [e for e in events if isinstance(e, Hazard.FlaggedForCase)]
    assert [f.level for f in flags] == [app.policy.case_level]
    assert app.hazard(hid).flagged_for_case


def test_handling_opinion_is_dated_the_site_day(app: SafeLoop) -> None:
    hid = file(app)
    # deadline 15:30 UTC = 23:30 in Shanghai; the tick at 16:10 UTC is the next site day
    deadline = T0 + timedelta(hours=15, minutes=30)
    notice(app, hid, deadline)
    app.tick(deadline + timedelta(minutes=40))
    opinion = next(e for e in app.hazard_events(hid) if isinstance(e, Hazard.HandlingOpinionIssued))
    assert opinion.issued_on == "2026-11-03"
    assert "第 1 次逾期" in opinion.opinion


def test_expected_version_guards_against_lost_updates(app: SafeLoop) -> None:
    hid = file(app)
    with pytest.raises(VersionConflict) as info:
        app.screen(hid, grade="general", department="CM1", actor="o1", now=T0, expected_version=5)
    assert info.value.version == 1 and info.value.state == S.REPORTED
    app.screen(hid, grade="general", department="CM1", actor="o1", now=T0, expected_version=1)
    with pytest.raises(IllegalTransition):
        app.screen(hid, grade="general", department="CM1", actor="o1", now=T0)


def test_as_of_replays_the_item_as_recorded_then(app: SafeLoop) -> None:
    hid = file(app)
    notice(app, hid, T0 + timedelta(days=3), now=T0 + timedelta(hours=2))
    assert app.hazard(hid, as_of=T0 + timedelta(hours=1)).state == S.REPORTED
    assert app.hazard(hid, as_of=T0 + timedelta(hours=2)).state == S.NOTICED
    with pytest.raises(NotFound):
        app.hazard(hid, as_of=T0 - timedelta(seconds=1))


def test_org_load_records_only_differences_and_keeps_history(app: SafeLoop) -> None:
    assert app.load_org(copy.deepcopy(ORG), actor="admin", now=T0) == 0
    changed = copy.deepcopy(ORG)
    changed["departments"][0]["unit_head"] = "s1"
    changed["people"] = [p for p in changed["people"] if p["id"] != "m1"]
    assert app.load_org(changed, actor="admin", now=T0 + timedelta(days=1)) == 2
    types = [type(e).__name__ for e in app.events.get(app.org().id)]
    assert types[-2:] == ["DepartmentChanged", "PersonRemoved"]
    before = app.org(as_of=T0 + timedelta(hours=1))
    assert isinstance(before, Organisation)
    assert before.departments["CM1"]["unit_head"] == "u1"
    assert app.org().departments["CM1"]["unit_head"] == "s1"
    assert app.org().person("m1") is None


def test_org_document_errors_name_the_field(app: SafeLoop) -> None:
    bad = copy.deepcopy(ORG)
    bad["people"][0]["role"] = "boss"
    with pytest.raises(InvalidCommand) as info:
        app.load_org(bad, actor="admin", now=T0)
    assert info.value.field == "people[0].role"
    bad = copy.deepcopy(ORG)
    bad["departments"][0]["unit_head"] = "ghost"
    with pytest.raises(InvalidCommand) as info:
        app.load_org(bad, actor="admin", now=T0)
    assert info.value.field == "departments[0].unit_head"


def test_tokens_authenticate_until_revoked(app: SafeLoop) -> None:
    token = app.create_token("u1", label="phone", actor="admin", now=T0)
    assert app.authenticate(token) == "u1"
    assert app.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert app.authenticate("garbage") is None
    app.revoke_token(token, actor="admin", reason="lost phone", now=T0)
    assert app.authenticate(token) is None


def test_policy_from_mapping_validates() -> None:
    policy = SitePolicy.from_mapping(
        {"deadline_hours": {"general": 48}, "escalation_copies": {1: ["unit_head"]}}
    )
    assert policy.deadline_hours["general"] == 48 and policy.deadline_hours["major"] == 720
    assert policy.copy_roles_for_level(5) == ("unit_head",)
    with pytest.raises(ValueError, match="unknown policy keys"):
        SitePolicy.from_mapping({"deadlines": {}})
    with pytest.raises(ValueError, match="timezone"):
        SitePolicy.from_mapping({"timezone": "Mars/Olympus"})


def test_a_tick_for_a_past_instant_is_recorded_at_the_real_time(app: SafeLoop) -> None:
    hid = file(app)
    deadline = T0 + timedelta(hours=2)
    notice(app, hid, deadline)
    real_now = T0 + timedelta(days=3)
    app.recording_clock = lambda: real_now
    app.tick(deadline + timedelta(hours=1))  # catching up an earlier instant
    opinion = next(e for e in app.hazard_events(hid) if isinstance(e, Hazard.HandlingOpinionIssued))
    assert opinion.occurred_at == deadline + timedelta(hours=1)
    assert opinion.timestamp == real_now
    # so the item as of a moment before the real recording still shows it NOTICED
    assert app.hazard(hid, as_of=real_now - timedelta(seconds=1)).state == S.NOTICED


def test_text_with_a_nul_character_is_refused_whatever_the_way_in(app: SafeLoop) -> None:
    head = app.head()
    with pytest.raises(InvalidCommand) as info:
        file(app, description="顶板\x00离层")
    assert info.value.field == "description"
    bad = copy.deepcopy(ORG)
    bad["people"][0]["name"] = "张\x00三"
    with pytest.raises(InvalidCommand):
        app.load_org(bad, actor="admin", now=T0)
    assert app.head() == head
