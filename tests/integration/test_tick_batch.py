"""The tick saves the overdue items it handles together; batching changes no outcome: an
item another scheduler handled meanwhile is not handled twice, and the others still are."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta
from typing import Any
from uuid import UUID

from domain.hazard import Hazard
from safeloop.system import System
from tests.conftest import ORG, T0, FakeClock, noticed_finding


def noticed(system: System, n: int) -> list[UUID]:
    app = system.app
    app.load_org(copy.deepcopy(ORG), actor="admin", now=T0)
    ids = [noticed_finding(app, T0 + timedelta(hours=1), f"传感器 {i}") for i in range(n)]
    system.runner.catch_up()
    return ids


def opinions(system: System, hazard_id: UUID) -> list[int]:
    return [
        e.period
        for e in system.app.events.get(hazard_id)
        if isinstance(e, Hazard.HandlingOpinionIssued)
    ]


def test_a_tick_handles_every_due_item_once(system: System, clock: FakeClock) -> None:
    ids = noticed(system, 5)
    later = T0 + timedelta(hours=2)
    clock.set(later)
    result = system.app.tick(later)
    assert (result.checked, result.renoticed, result.conflicts) == (5, 5, 0)
    assert sorted(result.renoticed_ids) == sorted(ids)
    assert all(opinions(system, i) == [1] for i in ids)
    system.runner.catch_up()
    again = system.app.tick(later)
    assert again.renoticed == 0


def test_an_item_handled_meanwhile_elsewhere_is_not_handled_twice(
    system: System, clock: FakeClock
) -> None:
    ids = noticed(system, 4)
    later = T0 + timedelta(hours=2)
    clock.set(later)
    app = system.app
    prepare = app._overdue_changes_of
    taken = ids[2]
    raced: list[UUID] = []

    def racing(hazard: Hazard, now: Any, org: Any) -> Any:
        changes = prepare(hazard, now, org)
        if hazard.id == taken and not raced:  # another scheduler saves its re-notice first
            raced.append(hazard.id)
            assert app.handle_overdue(hazard.id, now) is not None
        return changes

    app._overdue_changes_of = racing  # type: ignore[method-assign]
    result = app.tick(later)
    assert result.renoticed == 3
    assert sorted(result.renoticed_ids) == sorted(i for i in ids if i != taken)
    # one handling opinion per item for the missed deadline: none lost, none twice
    assert Counter(len(opinions(system, i)) for i in ids) == {1: 4}
    assert [e.originator_version for e in app.events.get(taken)][-1] == app.hazard(taken).version


def test_a_reminder_issued_meanwhile_elsewhere_is_not_issued_twice(
    system: System, clock: FakeClock
) -> None:
    """Reminders are loaded and saved together too, with the same fallback on a conflict."""
    app = system.app
    app.load_org(copy.deepcopy(ORG), actor="admin", now=T0)
    ids = [noticed_finding(app, T0 + timedelta(hours=30), f"传感器 {i}") for i in range(4)]
    system.runner.catch_up()
    at = T0 + timedelta(hours=7)  # the 24-hour reminder is due (from T0 + 6 h)
    clock.set(at)
    prepare = app._reminder
    taken = ids[1]
    raced: list[UUID] = []

    def racing(hazard: Hazard, now: Any, org: Any) -> bool:
        issued = prepare(hazard, now, org)
        if hazard.id == taken and not raced:  # another scheduler saves its reminder first
            raced.append(hazard.id)
            assert app.remind(hazard.id, now) is not None
        return issued

    app._reminder = racing  # type: ignore[method-assign]
    result = app.tick(at)
    assert raced == [taken]
    assert (result.reminded, result.renoticed, result.conflicts) == (3, 0, 0)
    reminders = Counter(
        e.originator_id
        for i in ids
        for e in app.events.get(i)
        if isinstance(e, Hazard.ReminderIssued)
    )
    assert reminders == dict.fromkeys(ids, 1)
    system.runner.catch_up()
    assert app.tick(at).reminded == 0
