"""CSV and Excel (xlsx) exports of item lists and department boards."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

#: (key, header) of an item row; headers in Chinese with the English name
ITEM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("number", "编号 number"),
    ("kind", "类别 kind"),
    ("state", "状态 state"),
    ("grade", "等级 grade"),
    ("department", "责任单位 department"),
    ("location", "地点 location"),
    ("description", "描述 description"),
    ("deadline", "整改期限 deadline"),
    ("overdue_periods", "逾期次数 overdue periods"),
    ("escalation_level", "督办级别 escalation level"),
    ("occurred_at", "发现时间 occurred at"),
    ("filed_at", "登记时间 recorded at"),
    ("late", "补录 late entry"),
    ("version", "版本 version"),
    ("id", "ID"),
)


class Sheet:
    """One table: a title, headers and rows of plain values."""

    def __init__(self, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        self.title = title
        self.headers = list(headers)
        self.rows = [list(r) for r in rows]


def item_sheet(title: str, items: Iterable[Mapping[str, Any]]) -> Sheet:
    return Sheet(
        title,
        [header for _, header in ITEM_COLUMNS],
        ([item.get(key) for key, _ in ITEM_COLUMNS] for item in items),
    )


def counts_sheet(title: str, counts: Mapping[str, int]) -> Sheet:
    return Sheet(title, ["状态 state", "数量 count"], sorted(counts.items()))


def to_csv(sheet: Sheet) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(sheet.headers)
    writer.writerows([_cell(v) for v in row] for row in sheet.rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(sheets: Sequence[Sheet]) -> bytes:
    book = Workbook()
    first = True
    for sheet in sheets:
        ws = book.active if first else book.create_sheet()
        first = False
        ws.title = sheet.title[:31]
        ws.append(sheet.headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            ws.append([_cell(v) for v in row])
        for i, header in enumerate(sheet.headers, start=1):
            width = max([len(str(header))] + [len(str(r[i - 1] or "")) for r in sheet.rows[:200]])
            ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, width + 2))
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


#: a cell starting with one of these would be read as a formula by a spreadsheet program
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # user text stays text (no formula injection)
    return value


#: (key, header) of a department's scorecard row
SCORE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("department", "单位 department"),
    ("name_zh", "名称 name"),
    ("filed", "登记 filed"),
    ("screened", "甄别 screened"),
    ("closed", "闭环 closed"),
    ("closed_on_time", "按期闭环 closed on time"),
    ("closed_on_time_extended", "按延期闭环 closed on time (extended)"),
    ("overdue_periods", "逾期次数 overdue periods"),
    ("renotices", "重新下发 re-notices"),
    ("repeats", "重复隐患 repeats"),
    ("violations", "三违 violations"),
    ("cases", "问责 cases"),
    ("vetoed", "一票否决 veto"),
)
PERSON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("person", "人员 person"),
    ("name", "姓名 name"),
    ("department", "单位 department"),
    ("violations", "三违 violations"),
    ("cases", "问责 cases"),
)


def score_sheets(
    month: str, departments: Iterable[Mapping[str, Any]], people: Iterable[Mapping[str, Any]]
) -> list[Sheet]:
    """A month's scorecard: one sheet per department row, one per person row."""
    return [
        Sheet(
            f"{month} 单位考核",
            [h for _, h in SCORE_COLUMNS],
            ([d.get(k) for k, _ in SCORE_COLUMNS] for d in departments),
        ),
        Sheet(
            f"{month} 人员",
            [h for _, h in PERSON_COLUMNS],
            ([p.get(k) for k, _ in PERSON_COLUMNS] for p in people),
        ),
    ]
