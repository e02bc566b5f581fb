"""The CLI's exports of lists, boards and notices (the HTTP API has the same, per caller)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from documents import sheets
from projections import boards
from safeloop.system import System

MAX_ROWS = 100_000


def item_id(system: System, text: str) -> UUID | None:
    """An item's id from its id or its number (YH-20261125-0001)."""
    try:
        return UUID(text)
    except ValueError:
        found = boards.find_by_number(system.store, text)
        return UUID(found) if found else None


def _late(system: System, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    threshold = system.settings.late_entry_hours * 3600
    for row in rows:
        row["late"] = row["delay_seconds"] > threshold
    return rows


def list_file(
    system: System, fmt: Literal["csv", "xlsx"], *, late: bool = False, **query: Any
) -> tuple[bytes, int]:
    """The whole item list (every page) as CSV or Excel; returns (content, rows)."""
    threshold = int(system.settings.late_entry_hours * 3600) if late else None
    rows: list[dict[str, Any]] = []
    cursor = None
    while len(rows) < MAX_ROWS:
        items, cursor = boards.list_items(
            system.store, limit=1000, before_seq=cursor, late_after_seconds=threshold, **query
        )
        rows += items
        if cursor is None:
            break
    sheet = sheets.item_sheet("隐患清单", _late(system, rows[:MAX_ROWS]))
    return (sheets.to_csv(sheet) if fmt == "csv" else sheets.to_xlsx([sheet])), len(sheet.rows)


def board_file(
    system: System,
    code: str,
    fmt: Literal["csv", "xlsx"],
    *,
    include_closed: bool = False,
    as_of: datetime | None = None,
) -> tuple[bytes, int]:
    data = boards.board(system.store, code, include_closed=include_closed, as_of=as_of)
    items = sheets.item_sheet(f"{code} 条目", _late(system, data["items"]))
    if fmt == "csv":
        return sheets.to_csv(items), len(items.rows)
    counts = sheets.counts_sheet(f"{code} 统计", data["counts"])
    return sheets.to_xlsx([counts, items]), len(items.rows)
