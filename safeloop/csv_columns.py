"""Reading a CSV import file by named columns (shared by the site-visit and certificate imports)."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path


def read_columns(
    path: Path, columns: Mapping[str, Sequence[str]]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: stripped text}) per data row, each column found in the header
    under any of its aliases (case-insensitive); ValueError on a header without a column."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = {name.strip().casefold(): name for name in reader.fieldnames or []}
        found_columns: dict[str, str] = {}
        for key, aliases in columns.items():
            found = next((header[a.casefold()] for a in aliases if a.casefold() in header), None)
            if found is None:
                raise ValueError(f"the header has no '{key}' column (one of: {', '.join(aliases)})")
            found_columns[key] = found
        for record in reader:
            yield (
                reader.line_num,
                {key: (record.get(name) or "").strip() for key, name in found_columns.items()},
            )
