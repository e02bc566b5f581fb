"""Accountability cases over the in-memory store: the proposal, the gates, auto-opening."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from domain.application import SafeLoop
from domain.case import CS, GatesOpen
from domain.errors import IllegalTransition, InvalidCommand
from domain.ids import case_id_for_hazard
from domain.policy import SitePolicy
from domain.site_visit import SiteVisit, Visit, VisitRow, location_key
from tests.conftest import ORG
from tests.unit.test_application import ListDue

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
PLACE = "1301综采工作面"


class LogVisits:
    """The VisitIndex port answered from the log itself (what the read model answers)."""

    def __init__(self, app: SafeLoop) -> None:
        self.app = app

    def present(self, location: str, start: datetime, end: datetime) -> list[Visit]:
        found = []
        for n in self.app.recorder.select_notifications(start=1, limit=1_000_000):
            e = self.app.mapper.to_domain_event(n)
            if (
                isinstance(e, SiteVisit.Recorded)
                and location_key(e.location) == location_key(location)
                and start <= e.occurred_at <= end
            ):
                found.append(
                    Visit(e.originator_id, e.person, e.location, e.occurred_at, e.timestamp)
                )
        return sorted(found, key=lambda v: (v.at, str(v.id)))


def org_with_shifts() -> dict[str, Any]:
    org = copy.deepcopy(ORG)
    org["people"] += [
        {"id": "t1", "name": "王成林", "role": "team_leader", "department": "CM1"},
        {"id": "sm1", "name": "李海涛", "role": "shift_manager", "department": "CM1"},
        {"id": "u3", "name": "周建军", "role": "unit_head", "department": "CM1"},
    ]
    return org


@pytest.fixture
def app() -> Iterator[SafeLoop]:
    a = SafeLoop({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    a.due_items = ListDue(a)
    a.visit_index = LogVisits(a)
    a.load_org(org_with_shifts(), actor="admin", now=T0 - timedelta(days=1))
    yield a
    a.close()


def open_case(app: SafeLoop, at: datetime, now: datetime | None = None, **kw: Any) -> UUID:
    args: dict[str, Any] = {
        "kind": "violation",
        "description": "违章进入空顶区作业",
        "location": PLACE,
        "department": "CM1",
        "occurred_at": at,
        "direct_person": "w1",
        "actor": "o1",
        "now": now or at + timedelta(hours=2),
    }
    args.update(kw)
    return app.open_case(**args).id


def proposed(app: SafeLoop, case_id: UUID) -> dict[str, dict[str, Any]]:
    return {p["person"]: p for p in app.case(case_id).proposal}


def test_the_proposal_names_the_unit_head_as_of_the_incident(app: SafeLoop) -> None:
    org = org_with_shifts()
    org["departments"][0]["unit_head"] = "u3"  # u1 is replaced on the 15th
    mid_month = T0 + timedelta(days=13)
    app.load_org(org, actor="admin", now=mid_month)
    before = open_case(app, T0 + timedelta(days=8), now=mid_month + timedelta(days=5))
    after = open_case(app, mid_month + timedelta(days=1))
    old, new = proposed(app, before), proposed(app, after)
    assert old["u1"]["role"] == "unit_head" and "u3" not in old
    assert new["u3"]["role"] == "unit_head" and "u1" not in new
    assert "区队长" in old["u1"]["basis"]
    # the basis names the event behind it: u1 was named in the first load, u3 in the change
    assert old["u1"]["evidence"][0]["event"] == "DepartmentAdded"
    assert new["u3"]["evidence"][0]["event"] == "DepartmentChanged"
    for entries in (old, new):
        assert entries["w1"]["role"] == "direct"
        assert entries["t1"]["role"] == "team_leader"
        assert entries["sm1"]["role"] == "shift_manager"
        assert entries["l1"]["role"] == "leader_in_charge"


def test_a_change_recorded_late_counts_from_when_it_took_effect(app: SafeLoop) -> None:
    org = org_with_shifts()
    org["departments"][0]["unit_head"] = "u3"
    recorded = T0 + timedelta(days=20)
    app.load_org(org, actor="admin", now=recorded, effective_at=T0 + timedelta(days=5))
    case = open_case(app, T0 + timedelta(days=10), now=recorded + timedelta(hours=1))
    assert proposed(app, case)["u3"]["role"] == "unit_head"
    with pytest.raises(InvalidCommand) as info:
        app.load_org(org, actor="admin", now=recorded, effective_at=recorded + timedelta(days=1))
    assert info.value.field == "effective_at"


def test_the_24_hour_window_includes_its_ends(app: SafeLoop) -> None:
    incident = T0 + timedelta(days=3)
    visits = [
        VisitRow("d1", PLACE, incident - timedelta(hours=24)),  # exactly 24 h: liable
        VisitRow("d2", PLACE, incident - timedelta(hours=24, seconds=1)),  # 24 h + 1 s: not
        VisitRow("c1", f" {PLACE} ", incident - timedelta(hours=3)),  # inside (spacing ignored)
        VisitRow("w2", PLACE, incident - timedelta(hours=1)),  # inside but not a manager
        VisitRow("u2", "2202运输顺槽", incident - timedelta(hours=1)),  # another place
    ]
    app.record_site_visits(visits, source="test", actor="admin", now=incident)
    entries = proposed(app, open_case(app, incident))
    assert entries["d1"]["role"] == "on_site_24h"
    assert entries["c1"]["role"] == "on_site_24h"
    assert "24小时追溯" in entries["c1"]["basis"]
    assert entries["c1"]["evidence"][0]["type"] == "site_visit"
    assert not {"d2", "w2", "u2"} & set(entries)


def test_importing_the_same_visits_twice_records_them_once(app: SafeLoop) -> None:
    rows = [VisitRow("d1", PLACE, T0 - timedelta(hours=i)) for i in range(5)]
    first = app.record_site_visits(rows, source="test", actor="admin", now=T0)
    again = app.record_site_visits(
        [*rows, VisitRow("d2", PLACE, T0)], source="test", actor="admin", now=T0
    )
    assert (first.created, first.existing) == (5, 0)
    assert (again.created, again.existing) == (1, 5)
    with pytest.raises(InvalidCommand) as info:
        app.record_site_visits([VisitRow("ghost", PLACE, T0)], source="test", actor="admin", now=T0)
    assert info.value.field == "person"


def settle(app: SafeLoop, case_id: UUID, now: datetime) -> None:
    """Everything but the measures: cause, responsibility, penalties, education."""
    app.record_cause(case_id, analysis="未执行敲帮问顶制度", actor="o1", now=now)
    case = app.case(case_id)
    for entry in case.proposal:
        if entry["person"] in ("w1", "t1", "u1"):
            app.confirm_responsibility(
                case_id, person=entry["person"], role=None, basis="", actor="o1", now=now
            )
        else:
            app.remove_responsibility(
                case_id, person=entry["person"], reason="事发时不在班", actor="o1", now=now
            )
    for person, kind, amount in (("w1", "fine", Decimal(200)), ("t1", "warning", None)):
        app.decide_penalty(
            case_id, person=person, kind=kind, amount=amount, veto=False, actor="o1", now=now
        )
    app.decide_penalty(
        case_id, person="u1", kind="fine", amount=Decimal(1000), veto=True, actor="o1", now=now
    )
    app.record_education(
        case_id,
        topic="顶板管理专项教育",
        held_at=now,
        attendees=["w1", "t1", "u1"],
        actor="o1",
        now=now,
    )


def test_an_open_measure_blocks_closing_until_its_item_is_closed(app: SafeLoop) -> None:
    case_id = open_case(app, T0)
    now = T0 + timedelta(days=1)
    with pytest.raises(GatesOpen) as info:
        app.close_case(case_id, actor="o1", now=now)
    assert info.value.open == ["cause", "responsibility", "education", "measures"]
    settle(app, case_id, now)
    measure = app.assign_measure(
        case_id,
        measures="补打单体支柱，加强顶板管理",
        responsible_person="u1",
        department="CM1",
        deadline=now + timedelta(days=3),
        actor="o1",
        now=now,
    )
    item = app.hazard(measure.hazard_id)
    assert (item.state, item.kind, item.department) == ("NOTICED", "problem", "CM1")
    assert item.number.startswith("WT-") and item.notice is not None
    assert item.notice["responsible_person"] == "u1"
    with pytest.raises(GatesOpen) as info:
        app.close_case(case_id, actor="o1", now=now)
    assert info.value.open == ["measures"]
    assert item.number in info.value.gates["measures"].why
    gates = app.case_gates(app.case(case_id))
    assert all(gates[g].held for g in ("cause", "responsibility", "education"))
    app.submit(measure.hazard_id, evidence=["照片"], note="", actor="u1", now=now)
    app.recheck(measure.hazard_id, passed=True, note="合格", actor="a1", now=now)
    result = app.close_case(case_id, actor="o1", now=now + timedelta(hours=1))
    assert result.state == CS.CLOSED
    with pytest.raises(IllegalTransition):
        app.record_cause(case_id, analysis="again", actor="o1", now=now + timedelta(hours=2))


def test_responsibility_rules(app: SafeLoop) -> None:
    case_id = open_case(app, T0)
    now = T0 + timedelta(hours=3)
    with pytest.raises(InvalidCommand) as info:  # not proposed: needs a role and a basis
        app.confirm_responsibility(case_id, person="c1", role=None, basis="", actor="o1", now=now)
    assert info.value.field == "role"
    with pytest.raises(InvalidCommand) as info:
        app.decide_penalty(
            case_id, person="w1", kind="warning", amount=None, veto=False, actor="o1", now=now
        )
    assert info.value.field == "person"  # not confirmed yet
    app.confirm_responsibility(
        case_id, person="c1", role="other", basis="安全生产第一责任人", actor="o1", now=now
    )
    app.confirm_responsibility(case_id, person="w1", role=None, basis="", actor="o1", now=now)
    with pytest.raises(InvalidCommand) as info:
        app.decide_penalty(
            case_id, person="w1", kind="fine", amount=None, veto=False, actor="o1", now=now
        )
    assert info.value.field == "amount"
    case = app.case(case_id)
    assert case.responsible["w1"]["role"] == "direct"
    assert case.responsible["c1"]["basis"] == "安全生产第一责任人"
    assert case.state == CS.RESPONSIBILITY_ASSIGNED
    gate = app.case_gates(case)["responsibility"]
    assert not gate.held and "t1" in gate.why and "w1" in gate.why
    app.remove_responsibility(case_id, person="c1", reason="误加", actor="o1", now=now)
    assert "c1" not in app.case(case_id).responsible
    with pytest.raises(InvalidCommand):
        app.remove_responsibility(case_id, person="c1", reason="again", actor="o1", now=now)


def test_an_item_reaching_the_case_level_opens_exactly_one_case(app: SafeLoop) -> None:
    app.policy = SitePolicy(case_level=2)
    from tests.unit.test_application import file, notice

    hid = file(app, location=PLACE)
    deadline = T0 + timedelta(days=1)
    notice(app, hid, deadline)
    at = deadline + timedelta(hours=1)
    app.tick(at)
    assert case_id_for_hazard(hid) not in app.repository  # level 1
    at += timedelta(days=1, hours=1)
    app.tick(at)  # level 2: flagged, and the case opened in the same save
    case = app.case(case_id_for_hazard(hid))
    assert (case.kind, case.source_hazard, case.findings) == ("overdue", str(hid), [str(hid)])
    assert case.department == "CM1" and case.incident_at == app.hazard(hid).reported_at
    entries = {p["person"]: p for p in case.proposal}
    assert entries["u1"]["roles"][0] == "direct"  # the notice's responsible person
    assert "unit_head" in entries["u1"]["roles"]
    version = case.version
    app.tick(at + timedelta(days=2))  # level 3: no second case, the first untouched
    assert app.case(case_id_for_hazard(hid)).version == version


def test_someone_proposed_as_of_the_incident_who_left_since_can_be_confirmed(
    app: SafeLoop,
) -> None:
    case_id = open_case(app, T0)
    org = org_with_shifts()
    org["departments"][0]["unit_head"] = "u3"
    org["people"] = [p for p in org["people"] if p["id"] != "u1"]  # u1 left the mine
    now = T0 + timedelta(days=2)
    app.load_org(org, actor="admin", now=now)
    assert app.org().person("u1") is None
    app.confirm_responsibility(case_id, person="u1", role=None, basis="", actor="o1", now=now)
    app.record_education(
        case_id, topic="警示教育", held_at=now, attendees=["u1", "w1"], actor="o1", now=now
    )
    assert app.case(case_id).responsible["u1"]["role"] == "unit_head"
    with pytest.raises(InvalidCommand):
        app.confirm_responsibility(
            case_id, person="ghost", role="other", basis="x", actor="o1", now=now
        )
