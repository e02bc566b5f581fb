"""Read models on real stores (SQLite file and PostgreSQL): apply, follow, rebuild, recover."""

from __future__ import annotations

import copy
import sqlite3
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from domain.hazard import S
from projections import boards, timeline
from projections.base import dump
from projections.deadlines import DeadlineIndex
from projections.store import PostgresViewStore
from safeloop.demo import load_demo
from safeloop.system import System, build_system
from tests.conftest import ORG, PG_URL, T0, FakeClock


def setup_org(system: System) -> None:
    system.app.load_org(copy.deepcopy(ORG), actor="admin", now=T0 - timedelta(days=1))


def file(system: System, **kw: Any) -> UUID:
    args: dict[str, Any] = {
        "kind": "hazard",
        "description": "巷道积尘超限",
        "location": "2202运输顺槽",
        "reporter": "w1",
        "reporter_role": "worker",
        "occurred_at": system.now() - timedelta(minutes=5),
        "actor": "w1",
        "now": system.now(),
    }
    args.update(kw)
    return system.app.file_hazard(**args).id


def notice(system: System, hid: UUID, deadline: Any, department: str = "CM1") -> None:
    now = system.now()
    system.app.screen(hid, grade="general", department=department, actor="o1", now=now)
    system.app.issue_notice(
        hid,
        responsible_person="u1",
        measures="冲尘",
        funds=Decimal("300"),
        deadline=deadline,
        contingency="停止作业",
        actor="o1",
        now=now,
    )


def test_board_deadlines_and_timeline_follow_the_loop(system: System, clock: FakeClock) -> None:
    setup_org(system)
    a, b = file(system), file(system, department="CM1")
    deadline = T0 + timedelta(days=1)
    notice(system, a, deadline)
    system.runner.catch_up()
    board = boards.board(system.store, "CM1")
    assert board["counts"][S.NOTICED] == 1 and board["counts"][S.REPORTED] == 1
    assert [i["id"] for i in board["items"]][0] == str(a)  # the one with a deadline first
    due = DeadlineIndex(system.store)
    assert due.due(deadline, None, 10) == []
    assert due.due(deadline + timedelta(seconds=1), None, 10) == [(deadline, a)]
    system.app.submit(a, evidence=["照片"], note="", actor="u1", now=system.now())
    system.runner.catch_up()
    assert due.due(deadline + timedelta(days=1), None, 10) == []
    history = timeline.history(system.store, str(a))
    assert [h["type"] for h in history] == [
        "Reported",
        "Screened",
        "NoticeIssued",
        "RectificationSubmitted",
    ]
    assert history[0]["data"]["description"] == "巷道积尘超限"
    assert history[2]["data"]["copies"] == ["d1", "l1"]
    items, cursor = boards.list_items(system.store, limit=1)
    assert [i["id"] for i in items] == [str(b)] and cursor is not None
    items, cursor = boards.list_items(system.store, limit=1, before_seq=cursor)
    assert [i["id"] for i in items] == [str(a)] and cursor is None


def test_a_rebuilt_read_model_equals_the_incremental_one(system: System, clock: FakeClock) -> None:
    load_demo(system, seed=3, days=12, findings=60, echo=lambda _: None)
    system.runner.catch_up()
    before = {p.name: dump(system.store, p) for p in system.runner.projections}
    assert before["boards"]["hazard_board"], "the demo produced items"
    states = {row["state"] for row in before["boards"]["hazard_board"]}
    assert {S.CLOSED, S.OVERDUE, S.NOTICED} <= states
    system.runner.rebuild()
    after = {p.name: dump(system.store, p) for p in system.runner.projections}
    for name in before:
        for table, rows in before[name].items():
            rebuilt = after[name][table]
            # updated_at of tracking aside, every row must be identical
            assert rebuilt == rows, f"{name}.{table} differs after a rebuild"


def test_the_background_runner_gives_read_your_writes(system: System) -> None:
    setup_org(system)
    system.runner.start()
    try:
        for _ in range(5):
            result = system.app.file_hazard(
                kind="problem",
                description="台账未更新",
                location="办公楼",
                reporter="m1",
                reporter_role="mass_supervisor",
                occurred_at=system.now(),
                department="TF",
                actor="m1",
                now=system.now(),
            )
            assert system.runner.wait_for(result.position, timeout=30)
            board = boards.board(system.store, "TF")
            assert str(result.id) in [i["id"] for i in board["items"]]
    finally:
        system.runner.stop()


def test_numbers_stay_gapless_under_concurrent_filing(system: System, clock: FakeClock) -> None:
    """Eight writers in two "processes" (two applications over one store) file at once."""
    setup_org(system)
    other = build_system(system.settings, clock=clock)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def worker(target: System) -> None:
        try:
            for _ in range(10):
                hid = file(target)
                numbers.append(target.app.hazard(hid).number)
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in [system, other] * 4]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.close()
    assert not errors
    assert sorted(numbers) == [f"YH-20261102-{i:04d}" for i in range(1, 81)]


def test_two_ticks_at_once_renotice_each_overdue_item_once(system: System) -> None:
    setup_org(system)
    deadline = T0 + timedelta(hours=4)
    ids = []
    for _ in range(500):
        hid = file(system)
        notice(system, hid, deadline)
        ids.append(hid)
    system.runner.catch_up()
    at = deadline + timedelta(hours=1)
    results = []

    def tick() -> None:
        results.append(system.app.tick(at))

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.renoticed for r in results) == 500
    system.runner.catch_up()
    renotices = 0
    for hid in ids:
        types = [type(e).__name__ for e in system.app.hazard_events(hid)]
        assert types.count("ReNoticed") == 1 and types.count("HandlingOpinionIssued") == 1
        renotices += 1
    assert renotices == 500
    assert boards.board(system.store, "CM1")["counts"][S.OVERDUE] == 500
    assert system.app.tick(at).renoticed == 0


def test_a_runner_woken_after_another_process_reset_a_read_model_applies_it_all(
    system: System, clock: FakeClock
) -> None:
    """Woken by a save, the runner starts from the positions it last saw; if another process
    reset a read model meanwhile, the batch's locked positions show it, and the read model is
    built again from the start (not from the position this runner remembered)."""
    setup_org(system)
    filed = [file(system) for _ in range(3)]
    system.runner.catch_up()
    other = build_system(system.settings, clock=clock)
    try:
        other.runner.reset(["boards"])
    finally:
        other.close()
    filed.append(file(system))
    while system.runner.run_once(system.runner._known()):
        pass
    on_board = {item["id"] for item in _all_board_items(system)}
    assert on_board == {str(hid) for hid in filed}
    assert system.runner.position() == system.app.head()


def _all_board_items(system: System) -> list[dict[str, Any]]:
    with system.store.read() as cur:
        return [dict(row) for row in cur.execute("SELECT id FROM hazard_board").fetchall()]


def test_the_runner_recovers_when_the_store_fails(system: System) -> None:
    """Writes to the read models fail for a while (SQLite: errors injected; PostgreSQL: the
    runner's connections are killed); the runner retries and catches up on its own."""
    setup_org(system)
    system.runner.start()
    try:
        if isinstance(system.store, PostgresViewStore):
            _kill_connections(system.store)
        else:
            _fail_writes(system, times=3)
        hid = file(system)
        position = system.app.head()
        assert system.runner.wait_for(position, timeout=60)
        items, _ = boards.list_items(system.store)
        assert str(hid) in [i["id"] for i in items]
    finally:
        system.runner.stop()


def _fail_writes(system: System, times: int) -> None:
    store = system.store
    original = store.write
    remaining = [times]

    def failing(**kwargs: Any) -> Any:
        if remaining[0] > 0:
            remaining[0] -= 1
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return original(**kwargs)

    store.write = failing  # type: ignore[method-assign]


def _kill_connections(store: PostgresViewStore) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (store.application_name,),
        ).fetchall()
    assert killed, "the view store's connections were found"


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
def test_item_list_scopes_to_departments_or_own_reports(system: System) -> None:
    setup_org(system)
    mine = file(system, reporter="w2", actor="w2", department="CM1")
    tf = file(system, department="TF")
    other = file(system, department="CM1")
    system.runner.catch_up()
    items, _ = boards.list_items(system.store, departments=["TF"], reporter="w2")
    assert {i["id"] for i in items} == {str(mine), str(tf)}
    items, _ = boards.list_items(system.store, departments=[], reporter="nobody")
    assert items == []
    assert str(other) not in {i["id"] for i in items}
