"""Loading many items at once (the tick's path: two queries for all of them) gives each item
exactly as loading it alone does, and as replaying all its events does — from the cache, from
a snapshot, from a snapshot with no event after it, and with nothing cached."""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.app_base import ReadsMany, replay
from domain.application import SafeLoop
from domain.hazard import Hazard
from domain.organisation import ORGANISATION_ID
from safeloop.system import System
from tests.conftest import ORG, T0, FakeClock, noticed_finding


def state(aggregate: Any) -> dict[str, Any]:
    return dict(vars(aggregate))


def grow(app: SafeLoop, clock: FakeClock, hazard_id: UUID, version: int) -> None:
    """Fail the item's recheck over and over until it has ``version`` events."""
    t = clock()
    while app.hazard(hazard_id).version < version:
        t += timedelta(minutes=10)
        clock.set(t)
        if app.hazard(hazard_id).state == "SUBMITTED":
            app.recheck(hazard_id, passed=False, note="不合格", actor="a1", now=t)
        else:
            app.submit(hazard_id, evidence=["photo"], note="", actor="u1", now=t)


def assert_loads_as_alone(app: SafeLoop, ids: list[UUID]) -> None:
    asked = [*ids, uuid.uuid4(), ORGANISATION_ID, ids[0]]  # unknown, not an item, twice
    many = app._get_many(Hazard, asked)
    assert list(many) == ids
    far = T0 + timedelta(days=3650)
    for hazard_id in ids:
        alone = app.hazard(hazard_id)
        full = replay(app.events.get(hazard_id), far)
        assert state(many[hazard_id]) == state(alone) == state(full)
        assert many[hazard_id].pending_events == []


def test_loading_many_equals_loading_each(system: System, clock: FakeClock) -> None:
    app = system.app
    assert app.snapshots is not None
    assert isinstance(app.recorder, ReadsMany)  # the batched reads, not one by one
    assert isinstance(app.snapshots.recorder, ReadsMany)
    app.load_org(copy.deepcopy(ORG), actor="admin", now=T0)
    clock.set(T0)
    short = noticed_finding(app, T0 + timedelta(days=300), "短")
    at_snapshot = noticed_finding(app, T0 + timedelta(days=300), "恰好快照")
    past_snapshot = noticed_finding(app, T0 + timedelta(days=300), "快照之后")
    grow(app, clock, at_snapshot, 50)
    grow(app, clock, past_snapshot, 107)
    assert [s.originator_version for s in app.snapshots.get(at_snapshot)] == [50]
    assert [s.originator_version for s in app.snapshots.get(past_snapshot)] == [50, 100]
    ids = [short, at_snapshot, past_snapshot]

    assert_loads_as_alone(app, ids)  # cached, behind the log
    # a second application on the same store: nothing cached, so from the snapshots
    cold = SafeLoop(app.env)
    try:
        cache = cold.repository.cache
        assert cache is not None
        for hazard_id in ids:
            with pytest.raises(KeyError):
                cache.get(hazard_id)
        assert_loads_as_alone(cold, ids)
        app.submit(short, evidence=["photo"], note="", actor="u1", now=clock())
        assert_loads_as_alone(cold, ids)  # cached by the load before, one event behind
    finally:
        cold.close()


def test_a_loaded_item_is_a_copy(system: System, clock: FakeClock) -> None:
    """Changing what ``_get_many`` returned (a command not saved) leaves the cache as it was."""
    app = system.app
    app.load_org(copy.deepcopy(ORG), actor="admin", now=T0)
    hazard_id = noticed_finding(app, T0 + timedelta(hours=1))
    cold = SafeLoop(app.env)
    try:
        for loader in (app, cold):  # cached by the commands; not cached, then cached by a load
            for _ in range(2):
                loaded = loader._get_many(Hazard, [hazard_id])[hazard_id]
                loaded.submit(
                    evidence=["photo"], note="", actor="u1", now=T0 + timedelta(minutes=5)
                )
                assert loader.hazard(hazard_id).state == "NOTICED"
                assert loader._get_many(Hazard, [hazard_id])[hazard_id].state == "NOTICED"
    finally:
        cold.close()
