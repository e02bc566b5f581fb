"""The Hazard state machine, on the aggregate alone (no I/O, fixed instants)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.errors import IllegalTransition, InvalidCommand
from domain.hazard import COMMANDS_BY_STATE, Hazard, S

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
D = T0 + timedelta(days=3)


def reported(now: datetime = T0, kind: str = "hazard") -> Hazard:
    return Hazard.report(
        hazard_id=uuid4(),
        number="YH-20261102-0001",
        kind=kind,
        description="顶板离层",
        location="1301工作面",
        reporter="w1",
        reporter_role="worker",
        occurred_at=now - timedelta(minutes=30),
        department=None,
        client_ref=None,
        actor="w1",
        now=now,
    )


def noticed(deadline: datetime = D) -> Hazard:
    h = reported()
    h.screen(grade="general", department="CM1", actor="o1", now=T0 + timedelta(hours=1))
    h.issue_notice(
        responsible_person="u1",
        measures="补打单体支柱",
        funds=Decimal("5000"),
        deadline=deadline,
        contingency="撤人",
        unit_head="u1",
        copies=["d1", "l1"],
        actor="o1",
        now=T0 + timedelta(hours=2),
    )
    return h


def overdue(h: Hazard, now: datetime) -> bool:
    return h.handle_overdue(
        now=now,
        issued_on=date(2026, 11, 5),
        new_deadline=now + timedelta(days=1),
        copies=["u1", "d1", "l1"],
        opinion="逾期",
        actor="system",
    )


def test_a_filed_finding_is_reported_with_its_facts() -> None:
    h = reported()
    assert h.state == S.REPORTED
    assert h.description == "顶板离层"
    assert h.reported_at == T0 - timedelta(minutes=30)
    assert h.created_on == T0
    assert h.allowed_commands() == ["screen", "fix-on-spot", "void", "merge"]


def test_the_whole_loop_with_a_failed_recheck() -> None:
    h = noticed()
    assert (h.state, h.deadline, h.notice and h.notice["copies"]) == (S.NOTICED, D, ["d1", "l1"])
    h.submit(evidence=["照片1"], note="已整改", actor="u1", now=T0 + timedelta(days=1))
    assert h.state == S.SUBMITTED
    new_deadline = T0 + timedelta(days=4)
    h.recheck(
        passed=False,
        note="支护不到位",
        new_deadline=new_deadline,
        actor="a1",
        now=T0 + timedelta(days=2),
    )
    assert (h.state, h.deadline) == (S.NOTICED, new_deadline)
    h.submit(evidence=["照片2"], note="", actor="u1", now=T0 + timedelta(days=3))
    h.recheck(
        passed=True, note="合格", new_deadline=D, actor="a1", now=T0 + timedelta(days=3, hours=2)
    )
    assert h.state == S.CLOSED
    closed = h.collect_events()[-1]
    assert isinstance(closed, Hazard.Closed)
    assert closed.on_time and closed.on_time_extended
    assert h.evidence == ["照片1", "照片2"]


def test_an_illegal_command_names_the_state_and_what_is_allowed() -> None:
    h = reported()
    with pytest.raises(IllegalTransition) as info:
        h.submit(evidence=["x"], note="", actor="u1", now=T0)
    assert info.value.state == S.REPORTED
    assert info.value.allowed == list(COMMANDS_BY_STATE[S.REPORTED])
    assert "REPORTED" in info.value.zh and "REPORTED" in info.value.en


def test_a_missed_deadline_is_handled_once_per_period() -> None:
    h = noticed()
    assert not overdue(h, D)  # at the deadline it has not passed yet
    assert overdue(h, D + timedelta(hours=1))
    assert (h.state, h.overdue_periods, h.escalation_level) == (S.OVERDUE, 1, 1)
    assert not overdue(h, D + timedelta(hours=1))  # same instant again: nothing
    assert not overdue(h, D + timedelta(hours=20))  # before the re-notice deadline
    assert overdue(h, D + timedelta(days=2, hours=2))  # the re-notice deadline passed too
    assert (h.overdue_periods, h.escalation_level) == (2, 2)
    types = [type(e).__name__ for e in h.collect_events()]
    assert types.count("HandlingOpinionIssued") == 2
    assert types.count("ReNoticed") == 2


def test_a_submitted_item_does_not_go_overdue() -> None:
    h = noticed()
    h.submit(evidence=["照片"], note="", actor="u1", now=D - timedelta(hours=1))
    assert not overdue(h, D + timedelta(days=1))


def test_an_overdue_item_stays_in_the_loop_and_closes_late() -> None:
    h = noticed()
    overdue(h, D + timedelta(hours=1))
    h.submit(evidence=["照片"], note="", actor="u1", now=D + timedelta(hours=5))
    h.recheck(passed=True, note="", new_deadline=D, actor="a1", now=D + timedelta(hours=6))
    closed = h.collect_events()[-1]
    assert isinstance(closed, Hazard.Closed)
    assert h.state == S.CLOSED
    assert not closed.on_time and not closed.on_time_extended


def test_extension_only_before_the_deadline_and_granted_moves_it() -> None:
    h = noticed()
    later = D + timedelta(days=2)
    with pytest.raises(IllegalTransition) as info:
        h.request_extension(requested_deadline=later, reason="备件未到", actor="u1", now=D)
    assert "before the deadline" in info.value.en
    with pytest.raises(InvalidCommand):
        h.request_extension(
            requested_deadline=D, reason="x", actor="u1", now=T0 + timedelta(days=1)
        )
    h.request_extension(
        requested_deadline=later, reason="备件未到", actor="u1", now=T0 + timedelta(days=1)
    )
    assert "extension/decision" in h.allowed_commands()
    assert "extension" not in h.allowed_commands()
    h.decide_extension(granted=True, note="同意", actor="o1", now=T0 + timedelta(days=1, hours=1))
    assert h.deadline == later and h.original_deadline == D and h.agreed_deadline == later
    h.submit(evidence=["照片"], note="", actor="u1", now=D + timedelta(days=1))
    h.recheck(passed=True, note="", new_deadline=D, actor="a1", now=D + timedelta(days=1, hours=1))
    closed = h.collect_events()[-1]
    assert isinstance(closed, Hazard.Closed)
    assert (closed.on_time, closed.on_time_extended) == (False, True)


def test_a_denied_extension_keeps_the_deadline() -> None:
    h = noticed()
    h.request_extension(
        requested_deadline=D + timedelta(days=1), reason="x", actor="u1", now=T0 + timedelta(days=1)
    )
    h.decide_extension(granted=False, note="不同意", actor="o1", now=T0 + timedelta(days=1))
    assert h.deadline == D and h.pending_extension is None
    with pytest.raises(IllegalTransition):
        h.decide_extension(granted=True, note="", actor="o1", now=T0 + timedelta(days=1))


def test_fix_on_spot_then_recheck() -> None:
    h = reported()
    h.fix_on_spot(note="现场处理", actor="a1", now=T0 + timedelta(minutes=5))
    assert h.allowed_commands() == ["recheck"]
    h.recheck(
        passed=False, note="未处理彻底", new_deadline=D, actor="a1", now=T0 + timedelta(hours=1)
    )
    assert h.state == S.REPORTED  # back to where it was, to be screened
    h.fix_on_spot(note="再次处理", actor="a1", now=T0 + timedelta(hours=2))
    h.recheck(passed=True, note="", new_deadline=D, actor="a1", now=T0 + timedelta(hours=3))
    assert h.state == S.CLOSED


def test_void_and_merge() -> None:
    a, b = reported(), reported()
    b.merge_into(a, actor="o1", now=T0 + timedelta(hours=1))
    assert b.state == S.MERGED and b.merged_into == str(a.id)
    assert a.duplicates == [str(b.id)]
    with pytest.raises(InvalidCommand):
        a.merge_into(a, actor="o1", now=T0 + timedelta(hours=1))
    a.void(reason="不是隐患", actor="o1", now=T0 + timedelta(hours=2))
    assert a.state == S.VOID and a.allowed_commands() == []


def test_bad_input_is_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidCommand) as info:
        reported(kind="rumour")
    assert info.value.field == "kind"
    h = reported()
    h.screen(grade="general", department="CM1", actor="o1", now=T0)
    with pytest.raises(InvalidCommand) as info:
        h.issue_notice(
            responsible_person="u1",
            measures="x",
            funds=Decimal("1"),
            deadline=T0 - timedelta(hours=1),
            contingency="y",
            unit_head="u1",
            copies=[],
            actor="o1",
            now=T0,
        )
    assert info.value.field == "deadline"
    with pytest.raises(InvalidCommand) as info:
        h.issue_notice(
            responsible_person="u1",
            measures="x",
            funds=Decimal("-1"),
            deadline=D,
            contingency="y",
            unit_head="u1",
            copies=[],
            actor="o1",
            now=T0,
        )
    assert info.value.field == "funds"
    assert h.state == S.SCREENED


def test_recorded_time_never_goes_backwards() -> None:
    h = reported(now=T0)
    h.screen(grade="general", department="CM1", actor="o1", now=T0 - timedelta(minutes=5))
    assert h.modified_on == T0
