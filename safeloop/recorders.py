"""Event-store recorders tuned for a server that must answer in bounded time.

Chosen by ``build_system`` through the library's ``PERSISTENCE_MODULE`` setting, which names
the factories below.

PostgreSQL: the library retries each store call ten times, and each try may wait the whole
pool timeout for a connection, so while the server is down one call took about 50 s (measured)
before failing. Here a call is retried only after a broken connection (quickly, a few times);
when no connection could be had within the pool timeout, it fails at once. Callers queued
behind it (the library fast-forwards a cached aggregate under a per-aggregate lock, so
concurrent requests for the organisation wait in line) would each wait another pool timeout;
instead, for a moment after such a failure every call fails at once (a circuit breaker), and
then one call tries again. So a request gets its 503 within about one pool timeout.

Group commit (PostgreSQL): concurrent saves of one process share a transaction. The log's
table is locked for every insert (so notification ids are issued in commit order), so each
save waited for the previous one's commit and its flush to disk; 8 writers reached about a
sixth of what raw INSERTs do. Now a save that finds another in progress queues, and the next
one to run takes every queued save into one transaction: one lock, one NOTIFY, one flush. Each
save's rows go in under their own savepoint, so a save that conflicts (another writer took the
same aggregate version — in the group or not) keeps none of its rows and gets its
IntegrityError, while the others commit: outcomes are exactly those of separate transactions.
The group is one multi-row INSERT ... ON CONFLICT DO NOTHING; a save missing any of its rows
from what was inserted conflicts, and its other rows are deleted before the commit.

SQLite: writers in one process take turns on the library's pool (its writer lock) and give up
after the pool timeout, 5 s by default, while each waits up to the lock timeout for writers in
other processes. A writer queued behind one that waits for another process would fail with a
"timed out" error although the lock timeout had not passed; here the pool waits as long as
the lock timeout.
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg_pool
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteFactory,
)
from psycopg import sql

from domain.batching import Batcher

#: tries of a store call that failed on a broken connection (not on a timeout)
ATTEMPTS = 3
#: seconds during which calls fail at once after the store could not be reached
COOL_OFF = 1.0


class Breaker:
    """Fails calls at once for COOL_OFF seconds after the store could not be reached."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        with self._lock:
            if time.monotonic() < self._open_until:
                raise OperationalError("the store could not be reached a moment ago")

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + COOL_OFF


_breakers: weakref.WeakKeyDictionary[Any, Breaker] = weakref.WeakKeyDictionary()


def breaker_for(datastore: Any) -> Breaker:
    return _breakers.setdefault(datastore, Breaker())


def _gave_up_waiting(error: BaseException) -> bool:
    """Whether the pool already waited its whole timeout for a connection."""
    cause = error.__cause__
    return isinstance(cause, psycopg_pool.PoolTimeout)


def _bounded(method: Any) -> Any:
    """The library's method without its retry loop, retried only after broken connections."""
    inner: Callable[..., Any] = getattr(method, "__wrapped__", method)

    @functools.wraps(inner)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        breaker = breaker_for(self.datastore)
        breaker.check()
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return inner(self, *args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if _gave_up_waiting(error):
                    breaker.trip()
                    raise
                if attempt == ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    return call


class GroupCommit(Batcher[Sequence[StoredEvent], Sequence[int] | None]):
    """Leader and followers: the first save runs alone; saves that arrive meanwhile queue,
    and when it is done the first of them leads the next group with all of them."""

    #: the most saves in one transaction
    max_group = 256


@dataclass(frozen=True)
class _GroupStatements:
    begin: bytes
    insert_group: bytes
    undo: bytes


class PostgresManyReads(PostgresAggregateRecorder):
    """Reads of many aggregates in one query each (the tick loads its due items 50 at a
    time: one round trip for all of them instead of one or two per item)."""

    def _select_events_of_many(self, after: Mapping[UUID, int]) -> dict[UUID, list[StoredEvent]]:
        """Each aggregate's events after the version given, in version order."""
        found: dict[UUID, list[StoredEvent]] = {}
        if not after:
            return found
        statement = sql.SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state"
            " FROM unnest(%s::{0}[], %s::bigint[]) AS w(id, gt)"
            " JOIN {1}.{2} e ON e.originator_id = w.id AND e.originator_version > w.gt"
            " ORDER BY e.originator_id, e.originator_version"
        ).format(
            sql.Identifier(self.datastore.originator_id_type),
            sql.Identifier(self.datastore.schema),
            sql.Identifier(self.events_table_name),
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (list(after), list(after.values())), prepare=True)
            for row in curs.fetchall():
                found.setdefault(row["originator_id"], []).append(_stored(row))
        return found

    def _select_last_events(self, ids: Sequence[UUID]) -> dict[UUID, StoredEvent]:
        """Each aggregate's last event (in the snapshots' table: its latest snapshot)."""
        if not ids:
            return {}
        statement = sql.SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state"
            " FROM unnest(%s::{0}[]) AS w(id) CROSS JOIN LATERAL"
            " (SELECT * FROM {1}.{2} WHERE originator_id = w.id"
            " ORDER BY originator_version DESC LIMIT 1) e"
        ).format(
            sql.Identifier(self.datastore.originator_id_type),
            sql.Identifier(self.datastore.schema),
            sql.Identifier(self.events_table_name),
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (list(ids),), prepare=True)
            return {row["originator_id"]: _stored(row) for row in curs.fetchall()}

    select_events_of_many = _bounded(_select_events_of_many)
    select_last_events = _bounded(_select_last_events)


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


class PostgresEventRecorder(PostgresManyReads, PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._group = GroupCommit(self._insert_group)

    _insert_alone = _bounded(PostgresApplicationRecorder.insert_events)
    select_events = _bounded(PostgresApplicationRecorder.select_events)
    select_notifications = _bounded(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _bounded(PostgresApplicationRecorder.max_notification_id)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if kwargs.get("tracking") is not None or self.datastore.enable_db_functions:
            return self._insert_alone(stored_events, **kwargs)  # type: ignore[no-any-return]
        if not stored_events:
            return []
        return self._group.submit(stored_events)

    @_bounded
    def _insert_group(self, saves: list[Sequence[StoredEvent]]) -> list[Any]:
        """Insert the saves' rows in one transaction; one save's outcome is its notification
        ids, or an IntegrityError when one of its rows' (aggregate, version) was taken — by a
        committed save or an earlier one of the group — and then none of its rows stay."""
        outcomes: list[Any] = [None] * len(saves)
        claimed: set[tuple[str, int]] = set()
        rows = []
        for i, events in enumerate(saves):
            keys = [(str(e.originator_id), e.originator_version) for e in events]
            if claimed.intersection(keys) or len(set(keys)) < len(keys):
                outcomes[i] = IntegrityError("version taken by another save of the group")
                continue
            claimed.update(keys)
            rows += [
                self.construct_pg_stored_event(
                    e.originator_id, e.originator_version, e.topic, e.state
                )
                for e in events
            ]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            # one round trip: begin, lock the log (ids in commit order), and wake followers
            curs.execute(self._statements.begin)
            curs.execute(self._statements.insert_group, (rows,), prepare=True)
            inserted = {
                (str(row["originator_id"]), row["originator_version"]): row["notification_id"]
                for row in curs.fetchall()
            }
            undo: list[int] = []
            for i, events in enumerate(saves):
                if outcomes[i] is not None:
                    continue
                ids = [inserted.get((str(e.originator_id), e.originator_version)) for e in events]
                if None in ids:  # a version already in the log: the save conflicts
                    undo += [n for n in ids if n is not None]
                    outcomes[i] = IntegrityError("version already recorded")
                else:
                    outcomes[i] = sorted(n for n in ids if n is not None)
            if undo:
                curs.execute(self._statements.undo, (undo,))
            curs.execute("COMMIT")
        if len(saves) == 1 and isinstance(outcomes[0], IntegrityError):
            raise outcomes[0]
        return outcomes

    @functools.cached_property
    def _statements(self) -> _GroupStatements:
        """The group's statements, composed once (composing them for every save was a tenth
        of a filing's work)."""
        return _GroupStatements(
            self._begin_statement().as_bytes(),
            self._insert_group_statement().as_bytes(),
            self._undo_statement().as_bytes(),
        )

    def _insert_group_statement(self) -> sql.Composed:
        return sql.SQL(
            "INSERT INTO {0}.{1} AS t (originator_id, originator_version, topic, state)"
            " SELECT originator_id, originator_version, topic, state"
            " FROM unnest(%s::{0}.{2}[]) ON CONFLICT DO NOTHING"
            " RETURNING originator_id, originator_version, notification_id"
        ).format(
            sql.Identifier(self.datastore.schema),
            sql.Identifier(self.events_table_name),
            sql.Identifier(self.stored_event_type_name),
        )

    def _undo_statement(self) -> sql.Composed:
        return sql.SQL("DELETE FROM {0}.{1} WHERE notification_id = ANY(%s)").format(
            sql.Identifier(self.datastore.schema), sql.Identifier(self.events_table_name)
        )

    def _begin_statement(self) -> sql.Composed:
        return sql.SQL("; ").join(
            [
                sql.SQL("BEGIN"),
                *self.lock_table_statements,
                sql.SQL("NOTIFY {0}").format(sql.Identifier(self.channel_name)),
            ]
        )


class PostgresSnapshotRecorder(PostgresManyReads):
    insert_events = _bounded(PostgresAggregateRecorder.insert_events)
    select_events = _bounded(PostgresAggregateRecorder.select_events)


class BoundedPostgresFactory(PostgresFactory):
    application_recorder_class = PostgresEventRecorder
    aggregate_recorder_class = PostgresSnapshotRecorder


class SQLiteManyReads(SQLiteAggregateRecorder):
    """The same reads of many aggregates at once as on PostgreSQL (one transaction)."""

    #: ids per statement (well under SQLite's limit on bound parameters)
    CHUNK = 400

    def select_events_of_many(self, after: Mapping[UUID, int]) -> dict[UUID, list[StoredEvent]]:
        """Each aggregate's events after the version given, in version order."""
        found: dict[UUID, list[StoredEvent]] = {}
        items = list(after.items())
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(items), self.CHUNK):
                chunk = items[start : start + self.CHUNK]
                c.execute(
                    f"WITH w(id, gt) AS (VALUES {', '.join(['(?, ?)'] * len(chunk))})"
                    " SELECT e.originator_id, e.originator_version, e.topic, e.state"
                    f" FROM w JOIN {self.events_table_name} e"
                    " ON e.originator_id = w.id AND e.originator_version > w.gt"
                    " ORDER BY e.originator_id, e.originator_version",
                    [v for key, gt in chunk for v in (key.hex, gt)],
                )
                for row in c.fetchall():
                    stored = self._stored(row)
                    found.setdefault(stored.originator_id, []).append(stored)  # type: ignore[arg-type]
        return found

    def select_last_events(self, ids: Sequence[UUID]) -> dict[UUID, StoredEvent]:
        """Each aggregate's last event (in the snapshots' table: its latest snapshot)."""
        found: dict[UUID, StoredEvent] = {}
        table = self.events_table_name
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), self.CHUNK):
                chunk = ids[start : start + self.CHUNK]
                c.execute(
                    f"SELECT originator_id, originator_version, topic, state FROM {table} e"
                    f" WHERE originator_id IN ({', '.join(['?'] * len(chunk))})"
                    " AND originator_version ="
                    f" (SELECT MAX(originator_version) FROM {table}"
                    " WHERE originator_id = e.originator_id)",
                    [key.hex for key in chunk],
                )
                for row in c.fetchall():
                    stored = self._stored(row)
                    found[stored.originator_id] = stored  # type: ignore[index]
        return found

    def _stored(self, row: Any) -> StoredEvent:
        return StoredEvent(
            originator_id=self.convert_originator_id(row["originator_id"]),
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=row["state"],
        )


class SQLiteEventRecorder(SQLiteManyReads, SQLiteApplicationRecorder):
    pass


class PatientSQLiteFactory(SQLiteFactory):
    aggregate_recorder_class = SQLiteManyReads
    application_recorder_class = SQLiteEventRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        pool.pool_timeout = max(pool.pool_timeout, float(pool.lock_timeout or 0))


POSTGRES_FACTORY_TOPIC = f"{__name__}:{BoundedPostgresFactory.__name__}"
SQLITE_FACTORY_TOPIC = f"{__name__}:{PatientSQLiteFactory.__name__}"
