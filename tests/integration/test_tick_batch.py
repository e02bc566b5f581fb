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
    prepare = app._overdue_changes
    taken = ids[2]
    raced: list[UUID] = []

    def racing(hazard_id: UUID, now: Any) -> Any:
        changes = prepare(hazard_id, now)
        if hazard_id == taken and not raced:  # another scheduler saves its re-notice first
            raced.append(hazard_id)
            assert app.handle_overdue(hazard_id, now) is not None
        return changes

    app._overdue_changes = racing  # type: ignore[method-assign]
    result = app.tick(later)
    assert result.renoticed == 3
    assert sorted(result.renoticed_ids) == sorted(i for i in ids if i != taken)
    # one handling opinion per item for the missed deadline: none lost, none twice
    assert Counter(len(opinions(system, i)) for i in ids) == {1: 4}
    assert [e.originator_version for e in app.events.get(taken)][-1] == app.hazard(taken).version
