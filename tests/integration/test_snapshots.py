"""Snapshots of long-lived items: "as of" starts from the latest snapshot recorded by then,
and answers exactly what replaying every event answers."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from domain.app_base import replay
from domain.hazard import Hazard
from safeloop.system import System
from tests.conftest import ORG, T0, FakeClock, noticed_finding


def state(hazard: Any) -> dict[str, Any]:
    return dict(vars(hazard))


def test_as_of_from_snapshots_equals_a_full_replay(system: System, clock: FakeClock) -> None:
    app = system.app
    app.load_org(copy.deepcopy(ORG), actor="admin", now=T0)
    hid = noticed_finding(app, T0 + timedelta(days=300))
    instants = []
    t = T0
    for cycle in range(70):  # 143 events: snapshots at versions 50, 100 (and 150 not yet)
        t += timedelta(minutes=10)
        clock.set(t)
        app.submit(hid, evidence=[f"photo {cycle}"], note="", actor="u1", now=t)
        instants.append(t + timedelta(minutes=1))  # between two events
        t += timedelta(minutes=10)
        clock.set(t)
        app.recheck(hid, passed=False, note=f"不合格 {cycle}", actor="a1", now=t)
        instants.append(t)  # exactly at an event's recording
    assert app.snapshots is not None
    snapshots = [s.originator_version for s in app.snapshots.get(hid)]
    assert snapshots == [50, 100]
    events = list(app.events.get(hid))
    assert len(events) == 143
    for at in [T0 - timedelta(days=1), T0, *instants]:
        full = replay(events, at)
        if full is None:
            continue
        fast = app.hazard(hid, as_of=at)
        assert isinstance(fast, Hazard)
        assert state(fast) == state(full), at
    assert app.hazard(hid, as_of=t).version == 143
