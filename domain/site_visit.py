"""Site visits: a manager's presence at a location at an instant (e.g. from the attendance system).

The 24-hour rule (24小时追溯) makes every manager of team-leader rank or above who was at the
place of an incident within the 24 hours before it liable too; these records are its evidence.
A visit's id is a natural key (person, location, instant), so importing the same attendance
file twice records nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.app_base import AppBase, position_of
from domain.errors import InvalidCommand
from domain.ids import site_visit_id
from domain.organisation import Organisation

#: how far ahead of the clock a visit may be stamped (clocks of card readers drift)
FUTURE_SLACK = timedelta(minutes=5)
MAX_LOCATION = 200


def location_key(location: str) -> str:
    """Places compare ignoring case and spaces ("1301 回风顺槽" is "1301回风顺槽")."""
    return "".join(location.split()).casefold()


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Visit:
    """One recorded visit, as the site-visit index answers it."""

    id: UUID
    person: str
    location: str
    at: datetime
    recorded_at: datetime


class VisitIndex(Protocol):
    """The port through which a case finds who was at a place: the ``site_visits`` read model.

    Returns the visits at ``location`` (compared by :func:`location_key`) with
    ``start <= at <= end``, oldest first.
    """

    def present(self, location: str, start: datetime, end: datetime) -> list[Visit]: ...


@dataclass(frozen=True)
class VisitRow:
    person: str
    location: str
    at: datetime


@dataclass(frozen=True)
class VisitsRecorded:
    created: int
    existing: int
    #: highest notification id written (None when nothing was new)
    position: int | None


class SiteVisit(Aggregate):
    class Recorded(Aggregate.Created):
        person: str
        location: str
        #: when the person was there
        occurred_at: datetime
        source: str
        actor: str

        def apply(self, v: SiteVisit) -> None:
            v.person = self.person
            v.location = self.location
            v.at = self.occurred_at
            v.source = self.source

    if TYPE_CHECKING:  # attributes set by the events (no dataclass fields)
        person: str
        location: str
        at: datetime
        source: str

    @classmethod
    def record(cls, row: VisitRow, *, source: str, actor: str, now: datetime) -> SiteVisit:
        location = " ".join(row.location.split())
        return cls._create(
            cls.Recorded,
            id=visit_id(row),
            person=row.person,
            location=location,
            occurred_at=row.at,
            source=source,
            actor=actor,
            timestamp=now,
        )


def visit_id(row: VisitRow) -> UUID:
    return site_visit_id(row.person, location_key(row.location), utc_text(row.at))


def check_visit(org: Organisation, row: VisitRow, now: datetime) -> None:
    """Raise InvalidCommand when a visit cannot be recorded (unknown person, empty place, ...)."""
    if org.person(row.person) is None:
        raise InvalidCommand("person", f"unknown person {row.person!r}", f"未知人员“{row.person}”")
    location = " ".join(row.location.split())
    if not location:
        raise InvalidCommand("location", "location is required", "地点为必填项")
    if len(location) > MAX_LOCATION:
        raise InvalidCommand("location", "location is too long", "地点过长")
    if row.at.tzinfo is None:
        raise InvalidCommand("at", "the instant needs a timezone", "时间必须带时区")
    if row.at > now + FUTURE_SLACK:
        raise InvalidCommand("at", "the visit is in the future", "到场时间不能晚于当前时间")


class SiteVisitCommands(AppBase):
    """Recording site visits, one at a time or in batches from an attendance export."""

    def record_site_visits(
        self, rows: Sequence[VisitRow], *, source: str, actor: str, now: datetime
    ) -> VisitsRecorded:
        """Record visits not yet recorded (in one transaction when none is a repeat).

        Every row is checked first; one bad row records nothing. Repeats of visits already
        recorded (same person, place and instant) are counted as ``existing``.
        """
        org = self.org()
        unique: dict[UUID, VisitRow] = {}
        for row in rows:
            check_visit(org, row, now)
            unique.setdefault(visit_id(row), row)
        pending = dict(unique)
        created, position = 0, None
        while pending:
            try:
                recordings = self.save(
                    *(
                        SiteVisit.record(r, source=source, actor=actor, now=now)
                        for r in pending.values()
                    )
                )
            except IntegrityError:
                # some were recorded before (a rerun, or someone at the same moment)
                left = {vid: row for vid, row in pending.items() if vid not in self.repository}
                if len(left) == len(pending):
                    raise  # not a repeat: something else is wrong
                pending = left
                continue
            created, position = len(pending), position_of(recordings)
            break
        return VisitsRecorded(created, len(rows) - created, position)
