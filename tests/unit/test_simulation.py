"""Policy simulation on a history driven through the Application (in memory)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from domain.application import SafeLoop
from domain.policy import SitePolicy
from domain.simulation import compare, replay_item
from tests.unit.test_application import T0, app, file  # noqa: F401 - the app fixture

H = timedelta(hours=1)
STRICT = SitePolicy(
    deadline_hours={"violation": 8, "general": 24, "major": 720}, renotice_hours=48, case_level=2
)


def _noticed(loop: SafeLoop, department: str) -> UUID:
    hid = file(loop, T0)
    loop.screen(hid, grade="general", department=department, actor="o1", now=T0)
    loop.issue_notice(
        hid,
        responsible_person="u1",
        measures="冲尘",
        funds=Decimal(0),
        deadline=None,
        contingency="撤人",
        actor="o1",
        now=T0,
    )
    loop.due_items.ids.append(hid)  # type: ignore[union-attr]
    return hid


def test_replays_keep_the_facts_and_recompute_deadlines_levels_and_cases(app: SafeLoop) -> None:  # noqa: F811
    late = _noticed(app, "CM1")  # default 72 h; submitted at 100 h
    quick = _noticed(app, "TF")  # submitted at 30 h
    app.submit(quick, evidence=["照片"], note="", actor="u2", now=T0 + 30 * H)
    app.recheck(quick, passed=True, note="", actor="a1", now=T0 + 31 * H)
    app.tick(T0 + 73 * H)  # period 1 (deadline 72 h), re-notice to 97 h
    app.tick(T0 + 98 * H)  # period 2, re-notice to 122 h
    app.submit(late, evidence=["照片"], note="", actor="u1", now=T0 + 100 * H)
    app.recheck(late, passed=True, note="", actor="a1", now=T0 + 101 * H)
    histories = [app.hazard_events(late), app.hazard_events(quick)]
    result = compare(histories, SitePolicy(), STRICT, T0, T0 + 200 * H)

    cm1, tf = "CM1", "TF"
    # as recorded: two missed deadlines (72 h, 97 h); overdue from 72 h to the submission
    assert (result.recorded[cm1].periods, result.recorded[cm1].max_level) == (2, 2)
    assert result.recorded[cm1].overdue_hours == 28
    # replayed under the same policy (ticks taken at the deadline): 72 h and 96 h
    assert (result.current[cm1].periods, result.current[cm1].max_level) == (2, 2)
    assert result.current[cm1].overdue_hours == 28
    assert result.current[cm1].flagged_for_case == 0
    # under the strict policy: deadline 24 h, missed at 24 and 72 (re-notice +48 h), level 2
    # reaches the case level; overdue from 24 h to 100 h
    assert (result.other[cm1].periods, result.other[cm1].max_level) == (2, 2)
    assert result.other[cm1].flagged_for_case == 1
    assert result.other[cm1].overdue_hours == 76
    # the quick item: on time under the current policy, one period under the strict one
    assert (result.current[tf].periods, result.other[tf].periods) == (0, 1)
    assert result.other[tf].overdue_hours == 6
    # the window: only periods whose missed deadline falls in it are counted
    assert replay_item(app.hazard_events(late), STRICT, T0 + 30 * H, T0 + 200 * H).periods == 1
    # and nothing was recorded by the simulation
    assert app.hazard(late).overdue_periods == 2 and app.hazard(quick).overdue_periods == 0
