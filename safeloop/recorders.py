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
from collections.abc import Callable
from typing import Any

import psycopg_pool
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
)
from eventsourcing.sqlite import SQLiteFactory

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
    inner: Callable[..., Any] = method.__wrapped__

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


class PostgresEventRecorder(PostgresApplicationRecorder):
    insert_events = _bounded(PostgresApplicationRecorder.insert_events)
    select_events = _bounded(PostgresApplicationRecorder.select_events)
    select_notifications = _bounded(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _bounded(PostgresApplicationRecorder.max_notification_id)


class PostgresSnapshotRecorder(PostgresAggregateRecorder):
    insert_events = _bounded(PostgresAggregateRecorder.insert_events)
    select_events = _bounded(PostgresAggregateRecorder.select_events)


class BoundedPostgresFactory(PostgresFactory):
    application_recorder_class = PostgresEventRecorder
    aggregate_recorder_class = PostgresSnapshotRecorder


class PatientSQLiteFactory(SQLiteFactory):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        pool.pool_timeout = max(pool.pool_timeout, float(pool.lock_timeout or 0))


POSTGRES_FACTORY_TOPIC = f"{__name__}:{BoundedPostgresFactory.__name__}"
SQLITE_FACTORY_TOPIC = f"{__name__}:{PatientSQLiteFactory.__name__}"
