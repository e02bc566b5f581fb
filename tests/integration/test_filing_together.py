"""Concurrent filings are numbered and saved together (one counter advance, one transaction),
on SQLite and PostgreSQL, and each keeps exactly the outcome it would have alone: its own
gapless number, the first filing for a repeated client_ref or key, its own refusal."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from domain.application import CommandResult, Filing, SafeLoop
from domain.errors import InvalidCommand
from domain.hazard import Hazard
from domain.ids import hazard_id_for_client_ref
from safeloop.system import System, build_system
from tests.conftest import ORG, T0, FakeClock

FINDING: dict[str, Any] = {
    "kind": "hazard",
    "description": "巷道积尘超限",
    "location": "2202运输顺槽",
    "reporter": "w1",
    "reporter_role": "worker",
    "occurred_at": T0 - timedelta(minutes=5),
    "actor": "w1",
    "now": T0,
}


@pytest.fixture
def filing_system(system: System) -> System:
    system.app.load_org(copy.deepcopy(ORG), actor="admin", now=T0 - timedelta(days=1))
    return system


def hold_first_group(app: SafeLoop, waiting: int) -> list[int]:
    """Make the first group of filings wait until ``waiting`` filings queued behind it (so
    the next group really holds them all); return the size of every group run."""
    sizes: list[int] = []
    run = app._filings._run
    first = threading.Event()

    def held(filings: list[Filing]) -> Any:
        if not first.is_set():
            first.set()
            deadline = time.monotonic() + 30
            while len(app._filings._queue) < waiting and time.monotonic() < deadline:
                time.sleep(0.001)
        sizes.append(len(filings))
        return run(filings)

    app._filings._run = held
    return sizes


def in_threads(n: int, work: Callable[[int], Any]) -> dict[int, Any]:
    """Run ``work(i)`` in ``n`` threads at once; each one's result or exception."""
    results: dict[int, Any] = {}

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except Exception as error:  # collected and asserted by the test
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def reported(system: System) -> list[Hazard.Reported]:
    """Every finding recorded in the log (its first event)."""
    found = []
    for n in system.app.recorder.select_notifications(start=1, limit=10_000):
        event = system.app.mapper.to_domain_event(n)
        if isinstance(event, Hazard.Reported):
            found.append(event)
    return found


def test_twenty_concurrent_filings_get_twenty_gapless_numbers(filing_system: System) -> None:
    app = filing_system.app
    sizes = hold_first_group(app, waiting=19)
    results = in_threads(20, lambda i: app.file_hazard(**FINDING, client_ref=f"phone-{i}"))
    assert sizes == [1, 19]  # the nineteen were filed together
    assert all(isinstance(r, CommandResult) and r.created for r in results.values())
    numbers = sorted(r.number for r in results.values())
    assert numbers == [f"YH-20261102-{n:04d}" for n in range(1, 21)]
    for i, result in results.items():
        assert result.id == hazard_id_for_client_ref(f"phone-{i}")
        assert app.hazard(result.id).number == result.number
    assert len(reported(filing_system)) == 20
    assert filing_system.runner.wait_for(max(r.position for r in results.values()), 30)


def test_a_repeated_client_ref_in_one_group_files_once(filing_system: System) -> None:
    """Twenty filings at once, five of them repeats of another's client_ref (a phone
    retrying): fifteen findings, numbered without gaps; each repeat gets its first filing."""
    app = filing_system.app
    sizes = hold_first_group(app, waiting=19)
    results = in_threads(20, lambda i: app.file_hazard(**FINDING, client_ref=f"phone-{i % 15}"))
    assert sizes == [1, 19]
    assert all(isinstance(r, CommandResult) for r in results.values())
    created = [r for r in results.values() if r.created]
    assert sorted(r.number for r in created) == [f"YH-20261102-{n:04d}" for n in range(1, 16)]
    by_ref = {r.id: r for r in created}
    for i, result in results.items():
        first = by_ref[hazard_id_for_client_ref(f"phone-{i % 15}")]
        assert (result.id, result.number, result.version) == (first.id, first.number, 1)
    assert len(reported(filing_system)) == 15


def test_each_filing_in_a_group_keeps_its_own_outcome(filing_system: System) -> None:
    """One group holding new filings, a refusal of each kind, a client_ref filed before and
    an Idempotency-Key reused for a different body: the refused take no number, the repeat
    gets its first filing, and the new ones are numbered on from the counter."""
    app = filing_system.app
    before = app.file_hazard(**FINDING, client_ref="filed-before")
    keyed = app.file_hazard(**FINDING, idempotency_key="key-1")
    assert (before.number, keyed.number) == ("YH-20261102-0001", "YH-20261102-0002")
    filings: list[dict[str, Any]] = [
        {"client_ref": "new-0"},
        {"reporter": "nobody"},
        {"kind": "incident"},
        {"description": "积尘\x00超限"},
        {"client_ref": "filed-before"},
        {"idempotency_key": "key-1", "description": "另一条"},
        {"idempotency_key": "key-1"},
        {"client_ref": "new-1", "urgent": True},
        {"department": "NOPE"},
        {},
    ]
    sizes = hold_first_group(app, waiting=len(filings) - 1)
    results = in_threads(len(filings), lambda i: app.file_hazard(**{**FINDING, **filings[i]}))
    assert sizes == [1, len(filings) - 1]
    refused = {i: r.field for i, r in results.items() if isinstance(r, InvalidCommand)}
    assert refused == {
        1: "reporter",
        2: "kind",
        3: "description",
        5: "Idempotency-Key",
        8: "department",
    }
    assert results[4].id == before.id and not results[4].created
    assert results[4].number == before.number
    assert results[6].id == keyed.id and not results[6].created
    new = [results[i] for i in (0, 7, 9)]
    assert all(r.created for r in new)
    assert sorted(r.number for r in new) == [f"YH-20261102-{n:04d}" for n in (3, 4, 5)]
    assert app.hazard(results[7].id).urgent
    assert len(reported(filing_system)) == 5


@pytest.fixture
def two_processes(filing_system: System, clock: FakeClock) -> Iterator[tuple[System, System]]:
    other = build_system(filing_system.settings, clock=clock)
    try:
        yield filing_system, other
    finally:
        other.close()


def test_a_counter_kept_in_memory_yields_to_another_process(
    two_processes: tuple[System, System],
) -> None:
    """Each process keeps the day's counter it saved last; when the other process advanced
    it meanwhile, the save conflicts and the filing is numbered from the store's counter."""
    one, two = two_processes
    numbers = [
        one.app.file_hazard(**FINDING).number,
        two.app.file_hazard(**FINDING).number,
        one.app.file_hazard(**FINDING).number,
        one.app.file_hazard(**FINDING).number,
        two.app.file_hazard(**FINDING).number,
    ]
    assert numbers == [f"YH-20261102-{n:04d}" for n in range(1, 6)]


def test_two_processes_filing_in_groups_number_without_gaps(
    two_processes: tuple[System, System],
) -> None:
    """Ten threads in each of two processes, each filing twice: forty numbers, no gaps, no
    number twice (the counter's version decides between the processes)."""
    one, two = two_processes

    def work(i: int) -> list[str]:
        target = (one, two)[i % 2]
        return [target.app.file_hazard(**FINDING).number or "" for _ in range(2)]

    results = in_threads(20, work)
    assert all(isinstance(r, list) for r in results.values()), results
    numbers = sorted(n for r in results.values() for n in r)
    assert numbers == [f"YH-20261102-{n:04d}" for n in range(1, 41)]
