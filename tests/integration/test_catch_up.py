"""Catching up a long log in big batches (one transaction per batch across every read model,
pipelined on PostgreSQL) builds the same read models as small batches do."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from projections.base import dump
from projections.runner import ProjectionRunner
from safeloop.generate import generate
from safeloop.system import System, build_system


def grow(system: System, events: int) -> None:
    """Copies of the findings' events under fresh ids, straight into the log."""
    notifications = system.app.recorder.select_notifications(start=1, limit=100_000)
    template = [n for n in notifications if ":Hazard." in n.topic]
    postgres = system.store.dialect == "postgres"
    made = 0
    while made < events:
        ids: dict[object, uuid.UUID] = {}
        rows = []
        for n in template:
            new = ids.setdefault(n.originator_id, uuid.uuid4())
            rows.append((new if postgres else new.hex, n.originator_version, n.topic, n.state))
        with system.store.write() as cur:
            cur.executemany(
                f"INSERT INTO {system.events_table}"
                " (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
                rows,
            )
        made += len(rows)


def test_big_batches_build_what_small_batches_build(system: System, tmp_path: Path) -> None:
    # (on PostgreSQL a read of the tracking row once got the answer to an earlier, still
    # queued INSERT of another read model in the same pipelined transaction)
    generate(system, items=300, days=30, seed=1)
    grow(system, 8000)
    runner = system.runner
    runner.batch_size = 1000
    runner.rebuild()
    big = {p.name: dump(system.store, p) for p in runner.projections}
    runner.batch_size = 150
    runner.rebuild()
    small = {p.name: dump(system.store, p) for p in runner.projections}
    assert runner.position() == system.app.head()
    for name in big:
        assert big[name] == small[name], name


def test_two_runners_at_once_apply_each_event_once(
    system: System, store_kind: str, tmp_path: Path
) -> None:
    """Two processes' runners catching up the same log at the same time (on PostgreSQL each
    with two transactions side by side) build exactly what one runner alone builds."""
    generate(system, items=300, days=30, seed=1)
    grow(system, 3000)
    system.runner.batch_size = 200
    system.runner.rebuild()
    alone = {p.name: dump(system.store, p) for p in system.runner.projections}
    system.runner.reset()
    other = build_system(system.settings)
    try:
        other.runner.batch_size = 150
        errors: list[BaseException] = []

        def catch_up(runner: ProjectionRunner) -> None:
            try:
                runner.catch_up()
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [
            threading.Thread(target=catch_up, args=(r,)) for r in (system.runner, other.runner)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
    finally:
        other.close()
    system.runner.catch_up()
    assert system.runner.position() == system.app.head()
    for projection in system.runner.projections:
        assert dump(system.store, projection) == alone[projection.name], projection.name
