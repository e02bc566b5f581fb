"""The PostgreSQL recorders' retry policy: quick retries after a broken connection, none
after the pool already waited its timeout, and then a short circuit breaker."""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg_pool
import pytest
from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder

from safeloop import recorders


class FakeDatastore:
    pass


class FakeRecorder:
    def __init__(self, errors: list[BaseException]) -> None:
        self.datastore = FakeDatastore()
        self.errors = errors
        self.calls = 0

    def _select(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "rows"


def bounded(recorder: FakeRecorder) -> Any:
    def library_method(self: FakeRecorder) -> str:
        return self._select()

    library_method.__wrapped__ = library_method  # type: ignore[attr-defined]
    return recorders._bounded(library_method)


def failure(cause: BaseException) -> OperationalError:
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as e:
        return e


def test_a_broken_connection_is_retried() -> None:
    recorder = FakeRecorder([failure(psycopg.OperationalError("connection lost"))])
    assert bounded(recorder)(recorder) == "rows"
    assert recorder.calls == 2


def test_a_pool_timeout_fails_at_once_and_opens_the_breaker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(recorders.time, "monotonic", lambda: now[0])
    recorder = FakeRecorder([failure(psycopg_pool.PoolTimeout("no connection after 5 s"))])
    call = bounded(recorder)
    with pytest.raises(OperationalError):
        call(recorder)
    assert recorder.calls == 1
    with pytest.raises(OperationalError, match="a moment ago"):
        call(recorder)  # fails at once: nobody waits in line behind a dead store
    assert recorder.calls == 1
    now[0] += recorders.COOL_OFF
    assert call(recorder) == "rows"  # then one call tries again


@pytest.mark.parametrize(
    ("ours", "library", "name"),
    [
        (recorders.PostgresEventRecorder, PostgresApplicationRecorder, "select_events"),
        (recorders.PostgresEventRecorder, PostgresApplicationRecorder, "select_notifications"),
        (recorders.PostgresEventRecorder, PostgresApplicationRecorder, "max_notification_id"),
        (recorders.PostgresEventRecorder, PostgresApplicationRecorder, "_insert_alone"),
        (recorders.PostgresEventRecorder, PostgresApplicationRecorder, "_insert_group"),
        (recorders.PostgresSnapshotRecorder, PostgresAggregateRecorder, "select_events"),
        (recorders.PostgresSnapshotRecorder, PostgresAggregateRecorder, "insert_events"),
        # the tick's reads of many items at once
        (recorders.PostgresEventRecorder, PostgresApplicationRecorder, "select_events_of_many"),
        (recorders.PostgresEventRecorder, PostgresApplicationRecorder, "select_last_events"),
        (recorders.PostgresSnapshotRecorder, PostgresAggregateRecorder, "select_events_of_many"),
        (recorders.PostgresSnapshotRecorder, PostgresAggregateRecorder, "select_last_events"),
    ],
)
def test_every_postgres_store_call_is_bounded(ours: type, library: type, name: str) -> None:
    """A call left to the library's own retry loop (ten tries, each may wait the whole pool
    timeout) hung requests for about 50 s while the store was down, instead of a quick 503:
    the group-commit recorder once dropped the reads' wrappers and the outage test caught it."""
    method = getattr(ours, name)
    assert method is not getattr(library, name, None)
    code = method.__code__  # the wrapper _bounded makes, not the library's retrying method
    assert (code.co_name, code.co_filename) == ("call", recorders.__file__)
