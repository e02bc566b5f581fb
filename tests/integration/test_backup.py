"""Backup and restore: export the log, import it into an empty store (SQLite → PostgreSQL)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from projections import audit
from projections.base import dump
from safeloop import backup
from safeloop.demo import load_demo
from safeloop.system import System, build_system
from tests.conftest import FakeClock, drop_schema, settings_for


def _everything(system: System) -> dict[str, Any]:
    """Every read model's rows, and the audit chain and seals."""
    tables: dict[str, Any] = {p.name: dump(system.store, p) for p in system.runner.projections}
    with system.store.read() as cur:
        for table in ("audit_chain", "audit_seal"):
            tables[table] = [
                dict(r) for r in cur.execute(f"SELECT * FROM {table} ORDER BY seq").fetchall()
            ]
    return tables


@pytest.fixture
def source(tmp_path: Path, clock: FakeClock) -> Iterator[System]:
    settings, _ = settings_for("sqlite", tmp_path / "source", seal_interval=50)
    system = build_system(settings, clock=clock)
    load_demo(system, seed=5, days=10, findings=40, echo=lambda _: None)
    system.runner.catch_up()
    yield system
    system.close()


@pytest.fixture
def postgres_target(tmp_path: Path, clock: FakeClock) -> Iterator[System]:
    settings, schema = settings_for("postgres", tmp_path / "pg", seal_interval=50)
    system = build_system(settings, clock=clock)
    yield system
    system.close()
    assert schema
    drop_schema(schema)


@pytest.mark.postgres
def test_sqlite_to_postgres_restores_the_same_log_and_read_models(
    source: System, postgres_target: System, tmp_path: Path
) -> None:
    seal = audit.seal_head(source.store)
    assert seal is not None
    path = tmp_path / "events.jsonl"
    with path.open("w", encoding="utf-8") as f:
        exported = backup.export_events(source, f, now=source.now())
    assert exported.count == source.app.head() > 100
    counted: list[int] = []
    restored = backup.import_events(postgres_target, path, progress=counted.append)
    assert restored.report.ok and restored.count == exported.count == sum(counted)
    # the same chain: the seal taken on the source checks the restored store
    report = audit.verify(postgres_target.store, postgres_target.events_table, seals=[seal])
    assert report.ok and report.head == exported.head == seal.link
    assert report.seals_checked >= 2
    source_tables = _everything(source)
    target_tables = _everything(postgres_target)
    # the export seal was taken on the source only; interval seals are the same
    source_tables["audit_seal"] = [
        s for s in source_tables["audit_seal"] if s["sealed_by"] != "export"
    ]
    assert target_tables == source_tables
    # and the application reads the same items from it
    some = source_tables["boards"]["hazard_board"][0]["id"]
    from uuid import UUID

    assert postgres_target.app.hazard(UUID(some)).state == source.app.hazard(UUID(some)).state
    # a restored store is not empty any more: a second import is refused
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.import_events(postgres_target, path)


def test_an_altered_or_cut_file_is_refused_and_nothing_written(
    source: System, system: System, tmp_path: Path
) -> None:
    buffer = io.StringIO()
    backup.export_events(source, buffer, now=source.now())
    lines = buffer.getvalue().splitlines()
    event = json.loads(lines[5])
    event["topic"] = event["topic"] + "X"
    altered = tmp_path / "altered.jsonl"
    altered.write_text("\n".join([*lines[:5], json.dumps(event), *lines[6:]]) + "\n")
    with pytest.raises(backup.BackupError, match="does not match its trailer"):
        backup.import_events(system, altered)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(backup.BackupError, match="cut short"):
        backup.import_events(system, cut)
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(backup.BackupError, match="not a safeloop event export"):
        backup.import_events(system, other)
    assert system.app.head() == 0
