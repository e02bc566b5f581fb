"""As-of: boards, lists and items answer with what the system held at an instant.

The loop is driven with the injected clock; at several instants the current answers are
recorded, and afterwards each is asked for again ``as_of`` that instant.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.hazard import S
from projections import boards, digest
from projections.base import dump
from safeloop.system import System
from tests.conftest import ORG, T0, FakeClock


def _file(
    system: System, clock: FakeClock, department: str | None = None, ago: float = 0.1
) -> UUID:
    return system.app.file_hazard(
        kind="hazard",
        description="巷道积尘超限",
        location="2202运输顺槽",
        reporter="w1",
        reporter_role="worker",
        occurred_at=clock() - timedelta(hours=ago),
        department=department,
        actor="w1",
        now=clock(),
    ).id


def _notice(system: System, clock: FakeClock, hid: UUID, dept: str, hours: float) -> None:
    system.app.screen(hid, grade="general", department=dept, actor="o1", now=clock())
    system.app.issue_notice(
        hid,
        responsible_person="u1",
        measures="冲尘",
        funds=Decimal("100"),
        deadline=clock() + timedelta(hours=hours),
        contingency="停止作业",
        actor="o1",
        now=clock(),
    )


def _answers(system: System, as_of: datetime | None = None) -> dict[str, Any]:
    system.runner.catch_up()
    store = system.store
    out: dict[str, Any] = {}
    for dept in ("CM1", "TF"):
        for closed in (False, True):
            b = boards.board(store, dept, include_closed=closed, as_of=as_of)
            b.pop("as_of")
            out[f"board:{dept}:{closed}"] = b
    queries: list[dict[str, Any]] = [
        {},
        {"department": "CM1"},
        {"state": S.NOTICED},
        {"overdue": True},
        {"departments": ["TF"], "reporter": "w1"},
        {"late_after_seconds": 24 * 3600},
    ]
    for i, q in enumerate(queries):
        pages = []
        cursor = None
        while True:
            items, cursor = boards.list_items(store, limit=2, before_seq=cursor, as_of=as_of, **q)
            pages.append(items)
            if cursor is None:
                break
        out[f"list:{i}"] = pages
    return out


def test_as_of_answers_equal_the_answers_recorded_then(system: System, clock: FakeClock) -> None:
    system.app.load_org(copy.deepcopy(ORG), actor="admin", now=T0 - timedelta(days=1))
    recorded: dict[datetime, dict[str, Any]] = {}
    items: dict[datetime, dict[UUID, str]] = {}
    ids: list[UUID] = []

    def snapshot() -> None:
        recorded[clock()] = _answers(system)
        items[clock()] = {h: system.app.hazard(h).state for h in ids}

    snapshot()  # nothing filed yet
    ids += [_file(system, clock), _file(system, clock, "TF", ago=72), _file(system, clock)]
    snapshot()
    clock.advance(hours=1)
    _notice(system, clock, ids[0], "CM1", 5)
    _notice(system, clock, ids[1], "TF", 30)
    system.app.fix_on_spot(ids[2], note="当场清扫", actor="a1", now=clock())
    snapshot()
    clock.advance(hours=2)
    ids.append(_file(system, clock, "CM1", ago=48))
    system.app.submit(ids[1], evidence=["照片"], note="", actor="u2", now=clock())
    system.app.recheck(ids[2], passed=True, note="", actor="a1", now=clock())
    snapshot()
    clock.advance(hours=4)  # the first notice's deadline has passed
    system.runner.catch_up()
    assert system.app.tick(clock()).renoticed == 1
    system.app.recheck(ids[1], passed=False, note="未冲洗干净", actor="a1", now=clock())
    _notice(system, clock, ids[3], "CM1", 2)
    snapshot()
    clock.advance(hours=3)
    system.runner.catch_up()
    system.app.tick(clock())
    ids.append(_file(system, clock, "CM1"))
    system.app.merge(ids[-1], into=ids[0], actor="o1", now=clock())
    system.app.screen(_file(system, clock), grade="major", department="TF", actor="o1", now=clock())
    snapshot()
    clock.advance(days=2)
    system.runner.catch_up()
    system.app.tick(clock())  # more overdue periods, higher levels
    snapshot()

    assert len({repr(a) for a in recorded.values()}) == len(recorded), "every instant differs"
    for instant, answers in recorded.items():
        assert _answers(system, as_of=instant) == answers, f"as of {instant}"
        for hid, state in items[instant].items():
            assert system.app.hazard(hid, as_of=instant).state == state
        # and a moment later (nothing recorded in between) the same
        assert _answers(system, as_of=instant + timedelta(seconds=30)) == answers
    late = recorded[max(recorded)]["list:5"]
    assert {i["id"] for page in late for i in page} == {str(ids[1]), str(ids[3])}

    # a rebuild reproduces the temporal table exactly
    boards_projection = next(p for p in system.runner.projections if p.name == "boards")
    before = dump(system.store, boards_projection)
    assert len(before["hazard_board_history"]) > len(before["hazard_board"])
    system.runner.rebuild(["boards"])
    assert dump(system.store, boards_projection) == before


def _digests(system: System, days: list[date], as_of: datetime | None = None) -> dict[str, Any]:
    system.runner.catch_up()
    policy = system.policy
    out = {}
    for day in days:
        d = digest.daily(system.store, day, zone=policy.zone, now=system.now(), as_of=as_of)
        d.pop("as_of")
        out[day.isoformat()] = d
    return out


def test_the_digest_as_of_an_instant_equals_the_digest_taken_then(
    system: System, clock: FakeClock
) -> None:
    """Late entries, later screenings, voids, closings and re-notices do not reach back."""
    system.app.load_org(copy.deepcopy(ORG), actor="admin", now=T0 - timedelta(days=1))
    zone = system.policy.zone
    day = clock().astimezone(zone).date()  # 2026-11-02, from 08:00 at the site
    days = [day - timedelta(days=1), day, day + timedelta(days=1)]
    recorded: dict[datetime, dict[str, Any]] = {}

    def snapshot() -> None:
        recorded[clock()] = _digests(system, days)

    snapshot()  # nothing filed yet
    clock.advance(minutes=5)
    first = _file(system, clock)  # no department yet
    second = _file(system, clock, "TF")
    third = _file(system, clock, "CM1")
    snapshot()
    clock.advance(hours=1)
    _notice(system, clock, first, "CM1", 2)  # screened into CM1 after the last snapshot
    system.app.screen(second, grade="major", department="TF", actor="o1", now=clock())
    snapshot()
    clock.advance(hours=3)  # the first notice's deadline has passed
    system.runner.catch_up()
    assert system.app.tick(clock()).renoticed == 1
    system.app.void(third, reason="重复登记", actor="o1", now=clock())
    snapshot()
    clock.advance(hours=2)
    system.app.submit(first, evidence=["照片"], note="", actor="u1", now=clock())
    system.app.recheck(first, passed=True, note="", actor="a1", now=clock())
    _file(system, clock, "CM1", ago=30)  # a late entry: it occurred yesterday
    snapshot()
    clock.advance(days=1)  # the next site day: another overdue spell, another repeat
    fourth = _file(system, clock, "CM1")
    _notice(system, clock, fourth, "CM1", 1)
    clock.advance(hours=2)
    system.runner.catch_up()
    system.app.tick(clock())
    snapshot()

    assert len({repr(a) for a in recorded.values()}) == len(recorded), "every instant differs"
    today = recorded[max(recorded)][day.isoformat()]
    assert today["closed"]["total"] == 1 and today["new_findings"]["total"] == 3  # void left out
    assert today["repeats"] and today["repeats"][0]["count"] == 3
    for instant, answers in recorded.items():
        assert _digests(system, days, as_of=instant) == answers, f"as of {instant}"
    # before the screening: the first finding without a department, none with a grade
    early = _digests(system, days, as_of=sorted(recorded)[1] + timedelta(minutes=30))
    assert early[day.isoformat()]["new_findings"]["by_department"] == {
        "-": {"unscreened": 1},
        "CM1": {"unscreened": 1},
        "TF": {"unscreened": 1},
    }
    # a rebuild gives the same answers
    system.runner.rebuild(["digest"])
    for instant, answers in recorded.items():
        assert _digests(system, days, as_of=instant) == answers
