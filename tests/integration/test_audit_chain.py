"""Tamper evidence on real stores: the chain, seals, and verify naming the first bad event."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from projections import audit
from projections.base import dump
from safeloop.system import System
from tests.conftest import ORG, T0, FakeClock


def _events(system: System, n: int, clock: FakeClock) -> None:
    system.app.load_org(copy.deepcopy(ORG), actor="admin", now=T0 - timedelta(days=1))
    for i in range(n):
        clock.advance(minutes=1)
        system.app.file_hazard(
            kind="hazard",
            description=f"巷道积尘超限 {i}",
            location="2202运输顺槽",
            reporter="w1",
            reporter_role="worker",
            occurred_at=clock(),
            actor="w1",
            now=clock(),
        )
    system.runner.catch_up()


def _log(system: System) -> list[dict[str, Any]]:
    key = "notification_id" if system.store.dialect == "postgres" else "rowid"
    with system.store.read() as cur:
        rows = cur.execute(
            f"SELECT {key} AS position, originator_id, originator_version, topic, state"
            f" FROM {system.events_table} ORDER BY {key}"
        ).fetchall()
    return [dict(r) for r in rows]


def _verify(system: System, **kw: Any) -> audit.Report:
    return audit.verify(system.store, system.events_table, batch=7, **kw)


@pytest.fixture
def chained(system: System, clock: FakeClock) -> System:
    _events(system, 12, clock)
    report = _verify(system)
    assert report.ok, report.problem
    assert report.events == report.chained == len(_log(system)) > 24
    assert report.unchained == 0
    return system


def test_an_intact_log_verifies_and_a_rebuild_keeps_the_chain(chained: System) -> None:
    system = chained
    chain = next(p for p in system.runner.projections if p.name == "audit_chain")
    with system.store.read() as cur:
        before = [dict(r) for r in cur.execute("SELECT * FROM audit_chain ORDER BY seq").fetchall()]
    system.runner.rebuild()
    with system.store.read() as cur:
        after = [dict(r) for r in cur.execute("SELECT * FROM audit_chain ORDER BY seq").fetchall()]
    assert before == after and len(after) == len(_log(system))
    assert dump(system.store, chain) == {}  # nothing of it is dropped by a rebuild
    assert _verify(system).ok


def test_an_updated_payload_is_caught_naming_the_event(chained: System) -> None:
    system = chained
    victim = [r for r in _log(system) if b"2202" in bytes(r["state"])][3]
    state = bytes(victim["state"]).replace(b"2202", b"2203")
    with system.store.write() as cur:
        cur.execute(
            f"UPDATE {system.events_table} SET state = ? WHERE originator_id = ?"
            " AND originator_version = ?",
            (state, victim["originator_id"], victim["originator_version"]),
        )
    problem = _verify(system).problem
    assert problem is not None and problem.kind == "altered"
    assert problem.position == victim["position"]
    assert problem.originator_id == audit.canonical_id(victim["originator_id"])
    assert problem.originator_version == victim["originator_version"]


def test_a_deleted_row_is_caught_naming_the_event(chained: System) -> None:
    system = chained
    victim = _log(system)[7]
    with system.store.write() as cur:
        cur.execute(
            f"DELETE FROM {system.events_table} WHERE originator_id = ? AND originator_version = ?",
            (victim["originator_id"], victim["originator_version"]),
        )
    problem = _verify(system).problem
    assert problem is not None and problem.kind == "deleted"
    assert (problem.position, problem.originator_version) == (
        victim["position"],
        victim["originator_version"],
    )
    assert problem.originator_id == audit.canonical_id(victim["originator_id"])


def test_the_last_row_deleted_is_caught(chained: System) -> None:
    system = chained
    victim = _log(system)[-1]
    with system.store.write() as cur:
        cur.execute(
            f"DELETE FROM {system.events_table} WHERE originator_id = ? AND originator_version = ?",
            (victim["originator_id"], victim["originator_version"]),
        )
    problem = _verify(system).problem
    assert problem is not None and problem.kind == "deleted"
    assert problem.position == victim["position"]


def test_two_swapped_rows_are_caught_naming_the_event(chained: System) -> None:
    system = chained
    log = _log(system)
    a, b = log[5], log[9]
    key = "notification_id" if system.store.dialect == "postgres" else "rowid"
    with system.store.write() as cur:
        # swap the two rows' places in the log (their notification ids)
        cur.execute(
            f"UPDATE {system.events_table} SET {key} = ? WHERE {key} = ?", (-1, a["position"])
        )
        cur.execute(
            f"UPDATE {system.events_table} SET {key} = ? WHERE {key} = ?",
            (a["position"], b["position"]),
        )
        cur.execute(
            f"UPDATE {system.events_table} SET {key} = ? WHERE {key} = ?", (b["position"], -1)
        )
    problem = _verify(system).problem
    assert problem is not None and problem.kind == "reordered"
    assert problem.position == a["position"]
    assert problem.originator_id == audit.canonical_id(a["originator_id"])
    assert problem.originator_version == a["originator_version"]
    assert f"found at {b['position']}" in problem.detail


def test_adjacent_rows_swapped_are_reordered_not_deleted(chained: System) -> None:
    system = chained
    log = _log(system)
    a, b = log[3], log[4]
    key = "notification_id" if system.store.dialect == "postgres" else "rowid"
    with system.store.write() as cur:
        cur.execute(
            f"UPDATE {system.events_table} SET {key} = ? WHERE {key} = ?", (-1, a["position"])
        )
        cur.execute(
            f"UPDATE {system.events_table} SET {key} = ? WHERE {key} = ?",
            (a["position"], b["position"]),
        )
        cur.execute(
            f"UPDATE {system.events_table} SET {key} = ? WHERE {key} = ?", (b["position"], -1)
        )
    problem = _verify(system).problem
    assert problem is not None and problem.kind == "reordered"
    assert problem.position == a["position"]


def test_rewriting_log_and_chain_together_is_caught_by_an_exported_seal(
    chained: System,
) -> None:
    """An attacker who edits an event and recomputes the whole chain table defeats the
    in-store chain; the seal exported before (and kept elsewhere) still catches it."""
    system = chained
    seal = audit.seal_head(system.store)
    assert seal is not None and seal.seq == len(_log(system))
    exported = audit.Seal.from_json(seal.to_json())
    victim = [r for r in _log(system) if b"2202" in bytes(r["state"])][0]
    state = bytes(victim["state"]).replace(b"2202", b"2203")
    with system.store.write() as cur:
        cur.execute(
            f"UPDATE {system.events_table} SET state = ? WHERE originator_id = ?"
            " AND originator_version = ?",
            (state, victim["originator_id"], victim["originator_version"]),
        )
        cur.execute("DELETE FROM audit_chain")
        cur.execute("DELETE FROM audit_seal")  # the in-store seals too
        cur.execute("UPDATE projection_tracking SET position = 0 WHERE name = 'audit_chain'")
    system.runner.catch_up()  # the chain is recomputed from the altered log
    assert _verify(system).ok  # consistent inside the store ...
    problem = _verify(system, seals=[exported]).problem  # ... but not with the kept seal
    assert problem is not None and problem.kind == "seal"
    assert problem.position == seal.position


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
def test_seals_are_taken_at_the_interval(system: System, clock: FakeClock) -> None:
    chain = next(p for p in system.runner.projections if isinstance(p, audit.AuditChain))
    chain.seal_interval = 10
    _events(system, 12, clock)
    n = len(_log(system))
    latest = audit.latest_seal(system.store)
    assert latest is not None and latest.seq == n // 10 * 10
    report = _verify(system)
    assert report.ok and report.seals_checked == n // 10
