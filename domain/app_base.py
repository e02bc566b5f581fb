"""The base of the safeloop Application: plumbing every command module shares.

Each command loads an aggregate, calls one method and saves. Time (``now``) and the acting
person come from the caller. ``save`` returns recordings whose notification ids let callers
wait until the read models have caught up (read-your-writes). Command modules are mixins of
:class:`AppBase` (see domain/application.py for how they are combined).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, runtime_checkable
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    project_aggregate,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording, StoredEvent

from domain.errors import InvalidCommand, NotFound, VersionConflict
from domain.organisation import ORGANISATION_ID, Organisation
from domain.policy import SitePolicy

SYSTEM_ACTOR = "system"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    state: str
    version: int
    #: highest notification id written (None when nothing was written)
    position: int | None
    created: bool = True
    number: str | None = None


@runtime_checkable
class ReadsMany(Protocol):
    """A recorder that reads many aggregates' events in one query (safeloop.recorders)."""

    def select_events_of_many(
        self, after: Mapping[UUID, int]
    ) -> Mapping[UUID, Sequence[StoredEvent]]: ...

    def select_last_events(self, ids: Sequence[UUID]) -> Mapping[UUID, StoredEvent]: ...


class AppBase(Application[UUID]):
    """Plumbing shared by every command module: loading, the organisation, save listeners."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        policy: SitePolicy | None = None,
        recording_clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(env=env)
        self.policy = policy or SitePolicy()
        #: when set, events are recorded at this clock's time (never earlier than ``now``)
        self.recording_clock = recording_clock
        self._listeners: list[Callable[[int], None]] = []

    # -- plumbing ----------------------------------------------------------------------------

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, stamping each new event with the time it is recorded.

        Commands stamp events with their ``now``, which is usually the clock's time. When a
        caller acts for a past instant (a tick run for an earlier ``now``), the event's
        ``occurred_at`` keeps that instant but its recorded time must be the real one, or a
        view "as of" a past instant would show what was not recorded yet.
        """
        for obj in objs:
            if isinstance(obj, Aggregate):
                refuse_nul(obj)
        if self.recording_clock is not None:
            recorded = self.recording_clock()
            for obj in objs:
                if isinstance(obj, Aggregate):
                    _restamp(obj, recorded)
        # What the library's ``save`` does, collecting an aggregate's events directly: its
        # ``collect_events`` asks two typing Protocols of every object, ~10 µs each on
        # Python 3.11 — a tenth of a save's own time under concurrent appends.
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # (deprecated; the library still calls it)
        return recordings

    def _take_snapshots(self, processing_event: Any) -> None:
        """At most one snapshot per aggregate per save, taken from the saved aggregate itself.

        The library takes one per interval crossed, each by replaying the aggregate from the
        store: a bulk save advancing a counter by 500 replayed it five times over.
        """
        if not (self.snapshots and self.snapshotting_intervals):
            return
        due: dict[UUID, Aggregate] = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval and event.originator_version % interval == 0:
                due[event.originator_id] = aggregate
        for aggregate in due.values():
            snapshot_class = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
            assert snapshot_class is not None
            self.snapshots.put([snapshot_class.take(aggregate)])

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(max_notification_id)`` after every successful save."""
        self._listeners.append(listener)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        position = position_of(recordings)
        if position is not None:
            for listener in self._listeners:
                listener(position)

    def _get(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(what, str(aggregate_id)) from None
        if not isinstance(aggregate, cls):
            raise NotFound(what, str(aggregate_id))
        return aggregate

    def _get_many(self, cls: type[A], aggregate_ids: Iterable[UUID]) -> dict[UUID, A]:
        """Several aggregates, each as ``_get`` gives it; those not found (or of another type)
        are left out.

        ``_get`` costs one or two queries per aggregate (a round trip each on PostgreSQL);
        here the latest snapshots of those not in the cache are read in one query, then the
        events after what the cache or the snapshot holds, of all of them, in another. The
        cache is used as the library's repository uses it: a cached aggregate is copied
        (under the lock the repository fast-forwards it under) and brought up to date, one
        not cached is put in the cache as reconstructed.
        """
        ids = list(dict.fromkeys(aggregate_ids))
        snapshots = self.snapshots
        if not isinstance(self.recorder, ReadsMany) or (
            snapshots is not None and not isinstance(snapshots.recorder, ReadsMany)
        ):
            return self._get_each(cls, ids)
        repository = self.repository
        cache = repository.cache
        start: dict[UUID, Any] = {}
        missed: list[UUID] = []
        for aggregate_id in ids:
            try:
                cached = cache.get(aggregate_id) if cache is not None else None
            except KeyError:
                cached = None
            if cached is None:
                missed.append(aggregate_id)
                continue
            lock = repository._use_fastforward_lock(aggregate_id)
            try:
                with lock:
                    start[aggregate_id] = deepcopy(cached)
            finally:
                repository._disuse_fastforward_lock(aggregate_id)
        if missed and snapshots is not None:
            assert isinstance(snapshots.recorder, ReadsMany)
            for aggregate_id, stored in snapshots.recorder.select_last_events(missed).items():
                start[aggregate_id] = snapshots.mapper.to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]
        after = {i: start[i].version if i in start else 0 for i in ids}
        found = self.recorder.select_events_of_many(after)
        to_cache = set(missed) if cache is not None else set()
        loaded: dict[UUID, A] = {}
        for aggregate_id in ids:
            events = map(self.events.mapper.to_domain_event, found.get(aggregate_id, ()))
            aggregate = project_aggregate(start.get(aggregate_id), events)
            if aggregate is None:
                continue
            if cache is not None and aggregate_id in to_cache:
                cache.put(aggregate_id, aggregate)
                aggregate = deepcopy(aggregate)
            if isinstance(aggregate, cls):
                loaded[aggregate_id] = aggregate
        return loaded

    def _get_each(self, cls: type[A], ids: Iterable[UUID]) -> dict[UUID, A]:
        """``_get_many`` one by one (for a recorder that cannot read many at once)."""
        loaded: dict[UUID, A] = {}
        for aggregate_id in ids:
            try:
                loaded[aggregate_id] = self._get(cls, aggregate_id, cls.__name__)
            except NotFound:
                continue
        return loaded

    def replay_as_of(self, aggregate_id: UUID, as_of: datetime) -> Aggregate | None:
        """The aggregate as recorded at ``as_of`` (None if it did not exist yet).

        A long-lived aggregate is snapshotted every few events (``snapshotting_intervals``);
        a snapshot's state was modified when its last event was recorded. Start from the latest
        snapshot recorded by ``as_of`` and read only the events up to the next snapshot, so
        the cost does not grow with the aggregate's history.
        """
        start: Aggregate | None = None
        gt: int | None = None
        lte: int | None = None
        if self.snapshots is not None:
            # binary search: the last snapshot whose state was recorded by ``as_of`` (a
            # snapshot's own timestamp is when it was taken, so its state's is used)
            stored = self.snapshots.recorder.select_events(aggregate_id)
            lo, hi = 0, len(stored)
            if stored:  # most often the latest one will do
                latest: Aggregate = self.snapshots.mapper.to_domain_event(stored[-1]).mutate(None)  # type: ignore[attr-defined]
                if latest.modified_on <= as_of:
                    start, gt, lo = latest, stored[-1].originator_version, len(stored)
            while lo < hi:
                mid = (lo + hi) // 2
                snapshot = self.snapshots.mapper.to_domain_event(stored[mid])
                taken: Aggregate = snapshot.mutate(None)  # type: ignore[attr-defined]
                if taken.modified_on <= as_of:
                    start, gt = taken, stored[mid].originator_version
                    lo = mid + 1
                else:
                    hi = mid
            if lo < len(stored):
                lte = stored[lo].originator_version
        return replay(self.events.get(aggregate_id, gt=gt, lte=lte), as_of, start)

    def head(self) -> int:
        """The highest notification id in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    # -- organisation ------------------------------------------------------------------------

    def org(self, as_of: datetime | None = None) -> Organisation:
        """The organisation now, or as it was recorded at ``as_of``."""
        if as_of is not None:
            org = self.replay_as_of(ORGANISATION_ID, as_of)
            if org is None:
                return Organisation.found(SYSTEM_ACTOR, as_of)
            assert isinstance(org, Organisation)
            return org
        try:
            return self._get(Organisation, ORGANISATION_ID, "organisation")
        except NotFound:
            return Organisation.found(SYSTEM_ACTOR, EPOCH)

    def _current_org(self) -> Organisation:
        """The organisation now, for look-ups only: the repository's cached copy itself, not
        a copy of it (copying it was a large part of a filing's work). A ``dict.get`` on it
        is safe while another thread brings it up to date; anything that iterates over it or
        changes it uses :meth:`org`."""
        try:
            aggregate: Aggregate = self.repository.get(ORGANISATION_ID, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return Organisation.found(SYSTEM_ACTOR, EPOCH)
        if not isinstance(aggregate, Organisation):
            raise NotFound("organisation", str(ORGANISATION_ID))
        return aggregate

    def load_org(
        self,
        document: Mapping[str, Any],
        *,
        actor: str,
        now: datetime,
        effective_at: datetime | None = None,
    ) -> int:
        """Record the differences between the organisation and ``document``.

        ``effective_at``: when the changes took effect, if earlier than ``now``.
        """
        try:
            org = self._get(Organisation, ORGANISATION_ID, "organisation")
        except NotFound:
            org = Organisation.found(actor, now, effective_at)
        changes = org.load(document, actor=actor, now=now, effective_at=effective_at)
        if org.pending_events:
            try:
                self.save(org)
            except IntegrityError:
                raise VersionConflict("", [], org.version) from None
        return changes

    # -- helpers -----------------------------------------------------------------------------

    def _require_department(self, code: str) -> None:
        if self.org().department(code) is None:
            raise InvalidCommand("department", f"unknown department {code!r}", f"未知部门“{code}”")


def refuse_nul(aggregate: Aggregate) -> None:
    """No text recorded may hold a NUL character: PostgreSQL text cannot store it, so one
    such event would stall the read models there. Checked here, for every way in."""
    for event in aggregate.pending_events:
        for name, value in vars(event).items():
            if _has_nul(value):
                raise InvalidCommand(
                    name, "text may not contain NUL characters", "文本中不能包含空字符（NUL）"
                )


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _restamp(aggregate: Aggregate, recorded: datetime) -> None:
    pending = aggregate.pending_events
    for i, event in enumerate(pending):
        if event.timestamp < recorded:
            pending[i] = dataclasses.replace(event, timestamp=recorded)  # type: ignore[type-var]
    if pending:
        aggregate.modified_on = pending[-1].timestamp
        if pending[0].originator_version == 1:
            aggregate._created_on = pending[0].timestamp


def position_of(recordings: Iterable[Recording[UUID]]) -> int | None:
    """The highest notification id among ``recordings`` (for read-your-writes)."""
    ids = [r.notification.id for r in recordings if r.notification.id is not None]
    return max(ids) if ids else None


def replay(
    events: Iterator[Any] | Iterable[Any], as_of: datetime, start: Aggregate | None = None
) -> Aggregate | None:
    """An aggregate from its events recorded up to ``as_of`` (None if it did not exist yet),
    from ``start`` (a snapshot's state) when given."""
    aggregate = start
    for event in events:
        if event.timestamp > as_of:
            break
        aggregate = event.mutate(aggregate)
    return aggregate
