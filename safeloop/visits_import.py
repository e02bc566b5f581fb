"""Importing site visits from an attendance system's CSV export (``safeloop site-visits import``).

The file needs a header with the columns ``person``, ``location`` and ``at`` (or 工号/人员,
地点, 时间); other columns are ignored. ``at`` is an ISO 8601 instant; without an offset it is
read in the site's timezone. A row that cannot be recorded (unknown person, empty place, bad
or future time) is skipped and reported with its line number; the others are recorded. A visit
is identified by person, place and instant, so importing the same file again adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import UUID

from domain.errors import InvalidCommand
from domain.site_visit import VisitRow, check_visit, visit_id
from safeloop.csv_columns import read_columns
from safeloop.system import System

COLUMNS = {
    "person": ("person", "工号", "人员"),
    "location": ("location", "地点"),
    "at": ("at", "时间"),
}
CHUNK = 500


@dataclass
class ImportSummary:
    read: int = 0
    created: int = 0
    existing: int = 0
    skipped: list[str] = field(default_factory=list)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {person, location, at}) for each data row; raises ValueError on a bad
    header."""
    return read_columns(path, COLUMNS)


def import_visits(
    system: System,
    path: Path,
    *,
    actor: str,
    progress: Callable[[int], None] = lambda _: None,
) -> ImportSummary:
    """Record the visits in ``path``; ``progress(n)`` is called as rows are done."""
    summary = ImportSummary()
    now = system.now()
    org = system.app.org()
    zone = system.policy.zone
    batch: list[VisitRow] = []
    seen: set[UUID] = set()

    def flush() -> None:
        if batch:
            result = system.app.record_site_visits(
                batch, source=f"import:{path.name}", actor=actor, now=now
            )
            summary.created += result.created
            summary.existing += result.existing
            progress(len(batch))
            batch.clear()

    for line, raw in read_rows(path):
        summary.read += 1
        try:
            at = datetime.fromisoformat(raw["at"])
        except ValueError:
            summary.skipped.append(f"line {line}: not an ISO 8601 instant: {raw['at']!r}")
            progress(1)
            continue
        row = VisitRow(raw["person"], raw["location"], at if at.tzinfo else at.replace(tzinfo=zone))
        try:
            check_visit(org, row, now)
        except InvalidCommand as e:
            summary.skipped.append(f"line {line}: {e.field}: {e.en} / {e.zh}")
            progress(1)
            continue
        key = visit_id(row)
        if key in seen:  # the same visit twice in the file
            summary.existing += 1
            progress(1)
            continue
        seen.add(key)
        batch.append(row)
        if len(batch) >= CHUNK:
            flush()
    flush()
    return summary


def count_rows(path: Path) -> int:
    return sum(1 for _ in read_rows(path))
