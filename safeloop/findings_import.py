"""Importing findings in bulk (``safeloop import FILE``): CSV or JSON lines.

Each row has the fields of ``POST /api/v1/hazards`` (kind, description, location, reporter,
reporter_role, occurred_at, and optionally department and urgent) and a ``client_ref``, which
names the
finding: importing the same file again files nothing twice. A row is checked by the API's own
schema (``api.schemas.FileHazard``) and then by the domain; a row that fails is skipped and
reported with its line number and why, the others are filed, many to a transaction.

A ``.jsonl`` / ``.ndjson`` file holds one JSON object per line; anything else is read as CSV
(UTF-8, optionally with a byte-order mark) with a header naming the fields. In a CSV an empty
``department``, ``client_ref`` or ``urgent`` cell means none. Instants without an offset are read
in the site's timezone.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from api.errors import field_errors
from api.schemas import FileHazard
from domain.app_base import CommandResult
from safeloop.system import System

CHUNK = 500
JSON_SUFFIXES = (".jsonl", ".ndjson")
#: in a CSV, an empty cell of these columns means the field is absent
OPTIONAL = ("department", "client_ref", "urgent")


@dataclass
class FindingsSummary:
    read: int = 0
    created: int = 0
    existing: int = 0
    #: "line N: field: why" for each row not filed
    rejected: list[str] = field(default_factory=list)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, the row's fields) per row — or (line, why) for a row that is not even a
    record; raises ValueError when the file cannot be read at all."""
    if path.suffix.lower() in JSON_SUFFIXES:
        with path.open(encoding="utf-8-sig") as handle:
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as e:
                    yield line, f"not valid JSON: {e.msg}"
                    continue
                if not isinstance(record, dict):
                    yield line, "not a JSON object"
                    continue
                yield line, record
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise ValueError("the file has no header row")
        for record in reader:
            if None in record:
                yield reader.line_num, "more values than the header has columns"
                continue
            row = {
                key.strip(): value
                for key, value in record.items()
                if key is not None and not (key.strip() in OPTIONAL and not value)
            }
            yield reader.line_num, row


def count_rows(path: Path) -> int:
    return sum(1 for _ in read_rows(path))


def _why(error: ValidationError) -> str:
    return "; ".join(f"{e['field']}: {e['en']} / {e['zh']}" for e in field_errors(error.errors()))


def import_findings(
    system: System,
    path: Path,
    *,
    actor: str,
    progress: Callable[[int], None] = lambda _: None,
) -> FindingsSummary:
    """File the findings in ``path``; ``progress(n)`` is called as rows are done."""
    summary = FindingsSummary()
    now = system.now()
    zone = system.policy.zone
    batch: list[tuple[int, dict[str, Any]]] = []

    def flush() -> None:
        if not batch:
            return
        results = system.app.file_hazards([f for _, f in batch], actor=actor, now=now)
        for (line, _), result in zip(batch, results, strict=True):
            if isinstance(result, CommandResult):
                if result.created:
                    summary.created += 1
                else:
                    summary.existing += 1
            else:
                summary.rejected.append(f"line {line}: {result.field}: {result.en} / {result.zh}")
        progress(len(batch))
        batch.clear()

    for line, row in read_rows(path):
        summary.read += 1
        if isinstance(row, str):
            summary.rejected.append(f"line {line}: {row}")
            progress(1)
            continue
        try:
            filing = FileHazard.model_validate(row)
        except ValidationError as e:
            summary.rejected.append(f"line {line}: {_why(e)}")
            progress(1)
            continue
        if filing.client_ref is None:
            summary.rejected.append(
                f"line {line}: client_ref: a client_ref is needed to import a finding"
                " / 批量导入需要 client_ref"
            )
            progress(1)
            continue
        values = filing.model_dump()
        if values["occurred_at"].tzinfo is None:
            values["occurred_at"] = values["occurred_at"].replace(tzinfo=zone)
        batch.append((line, values))
        if len(batch) >= CHUNK:
            flush()
    flush()
    return summary
