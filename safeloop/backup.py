"""Backup and restore of the event log as JSON lines; also the way from SQLite to PostgreSQL.

The file holds a header, every stored event exactly as recorded (its notification id,
originator, version, topic and state bytes in base64) and a trailer with the count and the
audit chain's head. A restore goes into an empty store only, checks the whole file against
its trailer before writing anything, writes every event with its original notification id
in one transaction, and then builds the read models and verifies the chain: the restored
store holds the same log, so every read model and every seal is the same as the source's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from projections import audit
from projections.timefmt import iso
from safeloop.system import System

FORMAT = "safeloop-events/1"
BATCH = 5000

Progress = Callable[[int], None]


class BackupError(Exception):
    """The file cannot be restored (or the store is not empty); nothing was written."""


@dataclass(frozen=True)
class Exported:
    count: int
    head: str


@dataclass(frozen=True)
class Restored:
    count: int
    head: str
    report: audit.Report


def _count(system: System) -> int:
    with system.store.read() as cur:
        row = cur.execute(f"SELECT COUNT(*) AS n FROM {system.events_table}").fetchone()
    return int(row["n"]) if row else 0


def export_events(
    system: System, out: IO[str], *, now: datetime, progress: Progress | None = None
) -> Exported:
    """Write every stored event, in log order, to ``out``."""
    count = _count(system)
    header = {"format": FORMAT, "count": count, "exported_at": iso(now)}
    out.write(json.dumps(header) + "\n")
    previous = audit.GENESIS
    written = 0
    for row in audit.log_rows(system.store, system.events_table, BATCH):
        previous = audit.link(
            previous, row.originator_id, row.originator_version, row.topic, row.state
        )
        line = {
            "id": row.position,
            "originator_id": row.originator_id,
            "originator_version": row.originator_version,
            "topic": row.topic,
            "state": base64.b64encode(row.state).decode("ascii"),
        }
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        written += 1
        if progress is not None and written % 1000 == 0:
            progress(1000)
    out.write(json.dumps({"end": True, "count": written, "chain": previous}) + "\n")
    return Exported(written, previous)


def file_count(path: Path) -> int:
    """The event count the file's header announces (for a progress bar)."""
    with path.open(encoding="utf-8") as f:
        header = _header(f.readline())
    return int(header.get("count", 0))


def _header(line: str) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(f"not a safeloop event export (expected format {FORMAT})")
    return header


@dataclass(frozen=True)
class _Event:
    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


def _read(path: Path) -> Iterator[_Event | dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        _header(f.readline())
        for number, line in enumerate(f, start=2):
            try:
                data = json.loads(line)
                if data.get("end"):
                    yield data
                    return
                yield _Event(
                    int(data["id"]),
                    audit.canonical_id(data["originator_id"]),
                    int(data["originator_version"]),
                    str(data["topic"]),
                    base64.b64decode(data["state"], validate=True),
                )
            except (ValueError, KeyError, TypeError) as e:
                raise BackupError(f"line {number}: not a stored event ({e})") from e
    raise BackupError("the file ends without its trailer: it was cut short")


def check_file(path: Path) -> Exported:
    """Read the whole file and check it against its trailer (count and chain head)."""
    previous = audit.GENESIS
    last_id = 0
    for count, item in enumerate(_read(path)):
        # the trailer comes after ``count`` events
        if isinstance(item, dict):
            if int(item.get("count", -1)) != count or item.get("chain") != previous:
                raise BackupError(
                    "the file does not match its trailer (events were changed, added or"
                    " removed after the export)"
                )
            return Exported(count, previous)
        if item.id <= last_id:
            raise BackupError(f"notification ids out of order at {item.id}")
        last_id = item.id
        previous = audit.link(
            previous, item.originator_id, item.originator_version, item.topic, item.state
        )
    raise BackupError("the file ends without its trailer: it was cut short")  # pragma: no cover


def import_events(system: System, path: Path, *, progress: Progress | None = None) -> Restored:
    """Restore an export into an empty store, then build the read models and verify."""
    if system.app.head() > 0:
        raise BackupError("the store is not empty: restore only into a new database (or schema)")
    checked = check_file(path)
    table = system.events_table
    postgres = system.store.dialect == "postgres"
    if postgres:
        sql = (
            f"INSERT INTO {table} (notification_id, originator_id, originator_version, topic,"
            " state) VALUES (?, ?, ?, ?, ?)"
        )
    else:
        sql = (
            f"INSERT INTO {table} (rowid, originator_id, originator_version, topic, state)"
            " VALUES (?, ?, ?, ?, ?)"
        )
    with system.store.write() as cur:
        batch: list[tuple[Any, ...]] = []
        last = 0
        for item in _read(path):
            if isinstance(item, dict):
                break
            oid: Any = UUID(item.originator_id) if postgres else UUID(item.originator_id).hex
            batch.append((item.id, oid, item.originator_version, item.topic, item.state))
            last = item.id
            if len(batch) >= BATCH:
                cur.executemany(sql, batch)
                if progress is not None:
                    progress(len(batch))
                batch = []
        if batch:
            cur.executemany(sql, batch)
            if progress is not None:
                progress(len(batch))
        if postgres and last:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'notification_id'), ?)",
                (last,),
            )
    system.runner.catch_up()
    report = audit.verify(system.store, table)
    if report.ok and report.head != checked.head:
        raise BackupError("the restored chain differs from the file's")  # pragma: no cover
    return Restored(checked.count, checked.head, report)
