"""Changing an event's shape: events stored in the old shape still load (upcasting).

``Permit.Issued`` stands for any event of the domain that gained a field: version 1 had
only ``holder``; version 2 adds ``area``. Events stored before the change are never
rewritten (the audit chain covers their bytes); they are upcast when read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from projections import audit
from safeloop.system import System
from tests.conftest import T0


class Permit(Aggregate):
    class Issued(Aggregate.Created):
        holder: str
        area: str  # new in version 2

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["area"] = "未指定"  # what version 1 meant: no area given

        def apply(self, permit: Permit) -> None:  # type: ignore[override]
            permit.holder = self.holder
            permit.area = self.area

    holder: str
    area: str

    @classmethod
    def issue(cls, holder: str, area: str, now: datetime) -> Permit:
        return cls._create(cls.Issued, id=uuid4(), holder=holder, area=area, timestamp=now)


def test_an_event_stored_in_the_old_shape_loads_upcast(system: System) -> None:
    app = system.app
    old_id = uuid4()
    # exactly what version 1 of the class stored: no class_version, no area
    old_state = app.mapper.transcoder.encode(
        {"timestamp": T0, "originator_topic": get_topic(Permit), "holder": "张卫东"}
    )
    app.recorder.insert_events([StoredEvent(old_id, 1, get_topic(Permit.Issued), old_state)])
    old = app.repository.get(old_id)
    assert isinstance(old, Permit)
    assert (old.holder, old.area) == ("张卫东", "未指定")

    # a new event is stored in the new shape and reads back as it was written
    new = Permit.issue("李海涛", "1301综采工作面", T0)
    app.save(new)
    loaded = app.repository.get(new.id)
    assert (loaded.holder, loaded.area) == ("李海涛", "1301综采工作面")
    stored = app.recorder.select_events(new.id)[0]
    assert b'"class_version":2' in stored.state

    # the stored bytes of the old event were not touched: the chain still verifies
    system.runner.catch_up()
    assert audit.verify(system.store, system.events_table).ok
