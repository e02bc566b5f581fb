"""Importing people's certificates from CSV (``safeloop certificates import``).

The header names the columns ``person``, ``type``, ``number``, ``issued_at`` and
``expires_at`` (or 工号/人员, 证书类型/类型, 证号/证书编号, 发证日期, 有效期至/到期日期);
other columns are ignored. Dates are ISO 8601: a day (``2027-03-31``) or an instant; a day is
read in the site's timezone — issued at its start, expiring at its end (valid through that
day). A row that cannot be recorded (unknown person, bad date, expiry before issue, an older
certificate than the one on record) is rejected and reported with its line number; the others
are recorded. The same certificate again changes nothing, so importing a file twice is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from domain.errors import InvalidCommand
from domain.training import CertificateRow, CertificatesImported
from safeloop.csv_columns import read_columns
from safeloop.system import System

COLUMNS = {
    "person": ("person", "工号", "人员"),
    "type": ("type", "证书类型", "类型"),
    "number": ("number", "证号", "证书编号"),
    "issued_at": ("issued_at", "发证日期"),
    "expires_at": ("expires_at", "有效期至", "到期日期"),
}


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: text}) per data row; ValueError on a header without a column."""
    return read_columns(path, COLUMNS)


def parse_instant(text: str, zone: ZoneInfo, *, end_of_day: bool) -> datetime:
    """An ISO day or instant; a day starts (or, for an expiry, ends) in the site's zone."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = datetime.combine(day, time(0), tzinfo=zone)
        return start + timedelta(days=1) if end_of_day else start
    instant = datetime.fromisoformat(text)
    return instant if instant.tzinfo else instant.replace(tzinfo=zone)


def parsed(path: Path, zone: ZoneInfo) -> Iterator[tuple[int, CertificateRow | InvalidCommand]]:
    for line, raw in read_rows(path):
        try:
            issued = parse_instant(raw["issued_at"], zone, end_of_day=False)
        except ValueError:
            yield (
                line,
                InvalidCommand(
                    "issued_at", f"not an ISO 8601 date: {raw['issued_at']!r}", "发证日期格式无效"
                ),
            )
            continue
        try:
            expires = parse_instant(raw["expires_at"], zone, end_of_day=True)
        except ValueError:
            yield (
                line,
                InvalidCommand(
                    "expires_at", f"not an ISO 8601 date: {raw['expires_at']!r}", "有效期格式无效"
                ),
            )
            continue
        yield line, CertificateRow(raw["person"], raw["type"], raw["number"], issued, expires)


def import_certificates(
    system: System,
    path: Path,
    *,
    actor: str,
    progress: Callable[[int], None] = lambda _: None,
) -> CertificatesImported:
    return system.app.import_certificates(
        parsed(path, system.policy.zone), actor=actor, now=system.now(), progress=progress
    )


def count_rows(path: Path) -> int:
    return sum(1 for _ in read_rows(path))
