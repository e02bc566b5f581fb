"""Cases, site visits and scorecards on real stores (SQLite file and PostgreSQL)."""

from __future__ import annotations

import copy
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.case import Case
from domain.hazard import Hazard
from domain.ids import case_id_for_hazard
from domain.policy import SitePolicy
from domain.site_visit import VisitRow
from projections import cases as case_views
from projections import scorecards
from projections.base import dump
from projections.site_visits import SiteVisitIndex
from safeloop.system import System
from tests.conftest import ORG, T0, FakeClock
from tests.integration.test_projections import file, notice

PLACE = "1301综采工作面"


def setup(system: System) -> None:
    system.app.load_org(copy.deepcopy(ORG), actor="admin", now=T0 - timedelta(days=1))


def card(system: System, month: str = "2026-11", as_of: Any = None) -> dict[str, Any]:
    system.runner.catch_up()
    return scorecards.scorecard(system.store, month, as_of)


def test_the_visit_index_window_ends(system: System) -> None:
    setup(system)
    at = T0 + timedelta(days=2)
    rows = [
        VisitRow("d1", PLACE, at - timedelta(hours=24)),
        VisitRow("d2", PLACE, at - timedelta(hours=24, seconds=1)),
        VisitRow("c1", PLACE, at - timedelta(hours=7, microseconds=1)),
        VisitRow("l1", PLACE, at),
        VisitRow("u2", PLACE, at + timedelta(seconds=1)),
        VisitRow("u1", "2202运输顺槽", at - timedelta(hours=1)),
    ]
    system.app.record_site_visits(rows, source="test", actor="admin", now=at)
    system.runner.catch_up()
    found = SiteVisitIndex(system.store).present(f"  {PLACE}", at - timedelta(hours=24), at)
    assert [v.person for v in found] == ["d1", "c1", "l1"]
    assert found[1].at == at - timedelta(hours=7, microseconds=1)


def scenario(system: System, clock: FakeClock) -> dict[str, UUID]:
    """Findings in CM1 in November: on time, late but within an extension, overdue, a repeat,
    a violation; and a case with a veto."""
    app = system.app
    setup(system)
    now = clock()
    ids: dict[str, UUID] = {}
    ids["a"] = file(system, department="CM1")
    notice(system, ids["a"], now + timedelta(days=1))
    clock.advance(hours=12)
    app.submit(ids["a"], evidence=["照片"], note="", actor="u1", now=clock())
    app.recheck(ids["a"], passed=True, note="", actor="a1", now=clock())
    ids["e"] = file(system, description="风门未关闭", location="+350水平风门")
    notice(system, ids["e"], clock() + timedelta(days=1))
    clock.advance(hours=6)
    app.request_extension(
        ids["e"],
        requested_deadline=clock() + timedelta(days=3),
        reason="备件",
        actor="u1",
        now=clock(),
    )
    app.decide_extension(ids["e"], granted=True, note="", actor="o1", now=clock())
    ids["f"] = file(system, description="水仓淤积", location="-120水平水仓")
    notice(system, ids["f"], clock() + timedelta(hours=2))
    clock.advance(days=2)
    app.submit(ids["e"], evidence=["照片"], note="", actor="u1", now=clock())
    app.recheck(ids["e"], passed=True, note="", actor="a1", now=clock())
    system.runner.catch_up()
    app.tick(clock())
    clock.advance(days=3)
    ids["b"] = file(system)  # the same place and description as "a", five days on: a repeat
    app.screen(ids["b"], grade="general", department="CM1", actor="o1", now=clock())
    ids["c"] = file(system, kind="violation", description="未佩戴自救器", department="CM1")
    app.screen(ids["c"], grade="general", department="CM1", actor="o1", now=clock())
    ids["case"] = app.open_case(
        kind="violation",
        description="未佩戴自救器下井",
        location=PLACE,
        department="CM1",
        occurred_at=clock() - timedelta(hours=1),
        direct_person="w1",
        findings=[ids["c"]],
        actor="o1",
        now=clock(),
    ).id
    for person in ("w1", "u1"):
        app.confirm_responsibility(
            ids["case"], person=person, role=None, basis="", actor="o1", now=clock()
        )
    app.decide_penalty(
        ids["case"], person="u1", kind="warning", amount=None, veto=True, actor="o1", now=clock()
    )
    return ids


def test_a_months_scorecard_counts_each_fact_once(system: System, clock: FakeClock) -> None:
    scenario(system, clock)
    cm1 = card(system)["departments"]["CM1"]
    expected = {
        "filed": 5,
        "screened": 5,
        "closed": 2,
        "closed_on_time": 1,
        "closed_on_time_extended": 2,
        "overdue_periods": 1,
        "renotices": 1,
        "repeats": 1,
        "violations": 1,
        "cases": 1,
        "vetoed": True,
    }
    assert {k: cm1[k] for k in expected} == expected
    assert card(system)["people"] == {
        "w1": {"cases": 1, "violations": 1},
        "u1": {"cases": 1, "violations": 0},
    }
    assert card(system, "2026-12")["departments"] == {}


def test_a_veto_counts_in_the_incidents_month_not_the_next(
    system: System, clock: FakeClock
) -> None:
    ids = scenario(system, clock)
    [veto] = card(system)["departments"]["CM1"]["vetoed_by"]
    assert (veto["case_id"], veto["person"]) == (str(ids["case"]), "u1")
    clock.set(T0 + timedelta(days=40))  # December: the decision is replaced, without a veto
    system.app.decide_penalty(
        ids["case"],
        person="u1",
        kind="fine",
        amount=Decimal(500),
        veto=False,
        actor="o1",
        now=clock(),
    )
    assert card(system)["departments"]["CM1"]["vetoed"] is False
    system.app.decide_penalty(
        ids["case"], person="w1", kind="demotion", amount=None, veto=True, actor="o1", now=clock()
    )
    assert card(system)["departments"]["CM1"]["vetoed_by"][0]["person"] == "w1"
    assert "CM1" not in card(system, "2026-12")["departments"]


def test_the_scorecard_as_of_a_past_instant_matches_what_it_showed_then(
    system: System, clock: FakeClock
) -> None:
    ids = scenario(system, clock)
    then = clock()
    shown = card(system)
    clock.advance(days=1)
    app = system.app
    # later changes to the same month: a late-filed finding found in November, the veto's
    # person removed, an item closed, the case's other people dealt with
    file(system, department="CM1", occurred_at=then - timedelta(days=2), now=clock())
    app.remove_responsibility(ids["case"], person="u1", reason="调离", actor="o1", now=clock())
    app.submit(ids["f"], evidence=["照片"], note="", actor="u1", now=clock())
    app.recheck(ids["f"], passed=True, note="", actor="a1", now=clock())
    now_card = card(system)
    assert now_card != shown
    assert now_card["departments"]["CM1"]["vetoed"] is False
    assert card(system, as_of=then) == shown
    assert card(system, as_of=clock()) == now_card
    assert card(system, as_of=T0 - timedelta(days=2)) == {"departments": {}, "people": {}}


def test_a_rebuilt_scorecard_equals_the_incremental_one(system: System, clock: FakeClock) -> None:
    ids = scenario(system, clock)
    system.app.remove_responsibility(ids["case"], person="w1", reason="x", actor="o1", now=clock())
    merged = file(system, department="CM1")  # a repeat, then merged into "b" as a duplicate
    assert card(system)["departments"]["CM1"]["repeats"] == 2
    system.app.merge(merged, into=ids["b"], actor="o1", now=clock())
    assert card(system)["departments"]["CM1"]["repeats"] == 1
    system.runner.catch_up()
    names = ("scorecards", "cases", "site_visits")
    before = {n: dump(system.store, system.runner.projection(n)) for n in names}
    shown = card(system)
    assert before["scorecards"]["scorecard_facts"]
    system.runner.rebuild(list(names))
    after = {n: dump(system.store, system.runner.projection(n)) for n in names}
    assert after == before
    assert card(system) == shown


def test_two_ticks_at_once_open_one_case_per_flagged_item(system: System) -> None:
    setup(system)
    system.app.policy = SitePolicy(case_level=1)
    deadline = T0 + timedelta(hours=4)
    ids = []
    for _ in range(40):
        hid = file(system, location=PLACE)
        notice(system, hid, deadline)
        ids.append(hid)
    system.runner.catch_up()
    at = deadline + timedelta(hours=1)
    threads = [threading.Thread(target=system.app.tick, args=(at,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    system.runner.catch_up()
    listed, _ = case_views.list_cases(system.store, limit=100)
    assert sorted(c["source_hazard"] for c in listed) == sorted(str(h) for h in ids)
    for hid in ids:
        flags = [e for e in system.app.hazard_events(hid) if isinstance(e, Hazard.FlaggedForCase)]
        assert len(flags) == 1
        case = system.app.case(case_id_for_hazard(hid))
        assert isinstance(case, Case) and case.version == 2  # opened, proposed: once
        linked, _ = case_views.list_cases(system.store, hazard=str(hid))
        assert [c["id"] for c in linked] == [str(case.id)]


def test_repeats_judged_in_one_batch_equal_one_event_at_a_time(
    system: System, clock: FakeClock
) -> None:
    """A catch-up answers "is this a repeat?" for a whole batch at once: findings filed and
    voided inside the batch must count exactly as they stood at each filing."""
    setup(system)
    clock.set(T0)
    a = file(system, department="CM1")  # recorded before the batch below
    system.runner.catch_up()
    b = file(system, department="CM1")  # repeats a (a is not voided yet)
    system.app.void(a, reason="误报", actor="o1", now=clock())
    c = file(system, department="CM1")  # repeats b, not a
    system.app.void(b, reason="误报", actor="o1", now=clock())
    system.app.void(c, reason="误报", actor="o1", now=clock())
    d = file(system, department="CM1")  # a, b and c voided: not a repeat
    e = file(system, department="CM1")  # repeats d
    clock.advance(days=40)
    f = file(system, department="CM1")  # outside the window of every other: not a repeat
    assert system.runner.position() < system.app.head() - 8  # all of it still to apply
    in_one_batch = card(system)["departments"]["CM1"]["repeats"]
    items = {
        row["hazard_id"]: row["is_repeat"]
        for row in dump(system.store, system.runner.projection("scorecards"))["scorecard_items"]
    }
    expected = {a: 0, b: 1, c: 1, d: 0, e: 1, f: 0}
    assert items == {str(k): v for k, v in expected.items()}
    assert in_one_batch == 1  # only e: b and c were voided
    # the same events one at a time build the same rows
    before = dump(system.store, system.runner.projection("scorecards"))
    system.runner.batch_size = 1
    system.runner.rebuild(["scorecards"])
    assert dump(system.store, system.runner.projection("scorecards")) == before
