"""Group commit on PostgreSQL: concurrent saves share a transaction, and nothing changes in
their outcomes — every save that succeeded is there with its own notification ids, a save
that took a version already taken (in the group or committed) fails alone with
IntegrityError and leaves nothing, and the others in its group are unaffected."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.errors import VersionConflict
from safeloop.recorders import GroupCommit, PostgresEventRecorder
from safeloop.system import System, build_system
from tests.conftest import T0, drop_schema, require_postgres, settings_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_system(tmp_path: Path) -> Iterator[System]:
    require_postgres()
    settings, schema = settings_for("postgres", tmp_path)
    system = build_system(settings)
    try:
        yield system
    finally:
        system.close()
        if schema:
            drop_schema(schema)


def event(oid: uuid.UUID, version: int) -> StoredEvent:
    return StoredEvent(oid, version, "tests:Bench.Event", b"{}")


def hold_first_group(recorder: PostgresEventRecorder, waiting: int) -> list[int]:
    """Make the first group wait until ``waiting`` saves queued behind it (so the next group
    really holds several saves); return the size of every group run."""
    sizes: list[int] = []
    run = recorder._group._run
    first = threading.Event()

    def held(saves: list[Any]) -> list[Any]:
        if not first.is_set():
            first.set()
            deadline = time.monotonic() + 30
            while len(recorder._group._queue) < waiting and time.monotonic() < deadline:
                time.sleep(0.001)
        sizes.append(len(saves))
        return run(saves)

    recorder._group._run = held
    return sizes


def in_threads(n: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_a_group_of_saves_keeps_each_outcome(pg_system: System) -> None:
    recorder = pg_system.app.recorder
    assert isinstance(recorder, PostgresEventRecorder)
    sizes = hold_first_group(recorder, waiting=15)
    shared = uuid.uuid4()
    results: dict[int, Any] = {}

    def work(i: int) -> None:
        # odd threads append to their own aggregate; even threads race for the same versions
        events = [event(uuid.uuid4(), 1), event(uuid.uuid4(), 1)] if i % 2 else []
        events += [event(shared, 1 + i // 2 % 2), event(shared, 3 + i // 2 % 2)] * (i % 2 == 0)
        try:
            results[i] = recorder.insert_events(events)
        except IntegrityError as e:
            results[i] = e

    in_threads(16, work)
    assert max(sizes) >= 8  # the saves did share transactions
    mine = {i: r for i, r in results.items() if i % 2}
    racing = {i: r for i, r in results.items() if i % 2 == 0}
    # every save on its own aggregates succeeded, with two ids of its own
    assert all(isinstance(r, list) and len(r) == 2 for r in mine.values())
    # of the racers for versions (1, 3) and for (2, 4), exactly one each won
    winners = [i for i, r in racing.items() if not isinstance(r, IntegrityError)]
    assert sorted(i // 2 % 2 for i in winners) == [0, 1]
    ids = [n for r in results.values() if isinstance(r, list) for n in r]
    assert len(ids) == len(set(ids)) == 2 * 8 + 2 * 2
    stored = recorder.select_events(shared)
    assert [e.originator_version for e in stored] == [1, 2, 3, 4]
    head = recorder.max_notification_id()
    log = recorder.select_notifications(start=1, limit=1000)
    # nothing else was left behind by the losers
    assert Counter(n.originator_id for n in log)[shared] == 4
    assert {n.id for n in log} == set(ids) and head == max(ids)


def test_a_save_conflicting_with_the_log_fails_alone_in_its_group(pg_system: System) -> None:
    recorder = pg_system.app.recorder
    assert isinstance(recorder, PostgresEventRecorder)
    taken = uuid.uuid4()
    recorder.insert_events([event(taken, 1)])
    sizes = hold_first_group(recorder, waiting=7)
    results: dict[int, Any] = {}

    def work(i: int) -> None:
        # thread 3 writes a fresh event and then version 1 of `taken`, already in the log
        events = [event(uuid.uuid4(), 1)] + ([event(taken, 1)] if i == 3 else [])
        try:
            results[i] = recorder.insert_events(events)
        except IntegrityError as e:
            results[i] = e

    in_threads(8, work)
    assert max(sizes) >= 4
    assert isinstance(results.pop(3), IntegrityError)
    assert all(isinstance(r, list) and len(r) == 1 for r in results.values())
    log = recorder.select_notifications(start=1, limit=100)
    assert len(log) == 1 + 7  # the loser's fresh event was not kept


def test_concurrent_commands_through_the_application_win_once_per_version(
    pg_system: System,
) -> None:
    app = pg_system.app
    from tests.conftest import ORG

    app.load_org(ORG, actor="admin", now=T0)
    filed = app.file_hazard(
        kind="hazard",
        description="d",
        location="l",
        reporter="w1",
        reporter_role="worker",
        occurred_at=T0,
        actor="w1",
        now=T0,
    )
    recorder = app.recorder
    assert isinstance(recorder, PostgresEventRecorder)
    sizes = hold_first_group(recorder, waiting=11)
    outcomes: list[str] = []

    def work(i: int) -> None:
        try:
            app.screen(
                filed.id,
                grade="general",
                department="CM1",
                actor="o1",
                now=T0,
                expected_version=filed.version,
            )
            outcomes.append("ok")
        except VersionConflict:
            outcomes.append("conflict")

    in_threads(12, work)
    assert Counter(outcomes) == {"ok": 1, "conflict": 11}
    assert sizes  # went through the group path
    assert [e.originator_version for e in recorder.select_events(filed.id)] == [1, 2]


def test_group_commit_hands_over_and_reports_each_outcome() -> None:
    """Without a database: the leader runs the queued saves together; a failed group fails
    every save in it, and the next group runs."""
    ran: list[list[Any]] = []
    gate = threading.Event()
    group: GroupCommit

    def run(saves: list[Any]) -> list[Any]:
        if not ran:
            assert gate.wait(10)
        ran.append(list(saves))
        if "boom" in saves:
            raise RuntimeError("the shared transaction failed")
        return [[s] for s in saves]

    group = GroupCommit(run)
    results: dict[str, Any] = {}

    def submit(name: str) -> None:
        try:
            results[name] = group.submit(name)  # type: ignore[arg-type]
        except RuntimeError as e:
            results[name] = e

    first = threading.Thread(target=submit, args=("a",))
    first.start()
    rest = [threading.Thread(target=submit, args=(n,)) for n in ("b", "boom", "c")]
    for t in rest:
        t.start()
    deadline = time.monotonic() + 10
    while len(group._queue) < 3 and time.monotonic() < deadline:
        time.sleep(0.001)
    gate.set()
    for t in [first, *rest]:
        t.join()
    assert ran[0] == ["a"] and sorted(ran[1]) == ["b", "boom", "c"]
    assert results["a"] == ["a"]
    assert all(isinstance(results[n], RuntimeError) for n in ("b", "boom", "c"))
    assert group.submit("d") == ["d"]  # type: ignore[arg-type]
    assert not group._busy
