"""Languages: message catalogues (babel, gettext .po files), times in the site's timezone.

Messages are written in English in the code and the templates (``_("...")``) and translated
in ``locale/<locale>/LC_MESSAGES/messages.po``; Chinese (zh-CN) is the default language. The
catalogues are compiled in memory when first used, so there is no build step.
"""

from __future__ import annotations

import gettext as gettext_module
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "zh"
#: our language codes (as in the organisation's person records) → babel locales
LOCALES = {"zh": "zh_CN", "en": "en"}


def N_(message: str) -> str:
    """Mark a message for extraction; translated later, where the language is known."""
    return message


@lru_cache(maxsize=8)
def translations(language: str) -> gettext_module.NullTranslations:
    locale = LOCALES.get(language, LOCALES[DEFAULT_LANGUAGE])
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return gettext_module.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


def normalise(language: str | None) -> str:
    return language if language in LOCALES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Lang:
    """One reader's language and the site's timezone: how pages say things."""

    code: str
    zone: ZoneInfo

    @property
    def html_lang(self) -> str:
        return "zh-CN" if self.code == "zh" else "en"

    @property
    def locale(self) -> Locale:
        return Locale.parse(LOCALES[self.code])

    def gettext(self, message: str) -> str:
        return translations(self.code).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(self.code).ngettext(singular, plural, n)

    def pick(self, en: str, zh: str) -> str:
        """A message the domain gives in both languages."""
        return zh if self.code == "zh" else en

    def local(self, instant: datetime | None) -> datetime | None:
        return instant.astimezone(self.zone) if instant is not None else None

    def time(self, instant: datetime | str | None) -> str:
        """An instant in the site's timezone, e.g. 2026-11-25 08:10."""
        value = _instant(instant)
        return "" if value is None else f"{value.astimezone(self.zone):%Y-%m-%d %H:%M}"

    def time_seconds(self, instant: datetime | str | None) -> str:
        value = _instant(instant)
        return "" if value is None else f"{value.astimezone(self.zone):%Y-%m-%d %H:%M:%S}"

    def input_value(self, instant: datetime | None) -> str:
        """The value of a datetime-local input (site time, minutes)."""
        return "" if instant is None else f"{instant.astimezone(self.zone):%Y-%m-%dT%H:%M}"

    def duration(self, delta: timedelta) -> str:
        return format_timedelta(abs(delta), threshold=1.5, locale=self.locale)

    def countdown(self, deadline: datetime | str | None, now: datetime) -> str:
        value = _instant(deadline)
        if value is None:
            return ""
        delta = value - now
        if delta.total_seconds() >= 0:
            return self.gettext("%(time)s left") % {"time": self.duration(delta)}
        return self.gettext("%(time)s overdue") % {"time": self.duration(delta)}

    def department(self, record: dict[str, Any] | None, code: str | None) -> str:
        if record is None:
            return code or ""
        if self.code == "en" and record.get("name_en"):
            return str(record["name_en"])
        return str(record.get("name_zh") or code or "")


def _instant(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
