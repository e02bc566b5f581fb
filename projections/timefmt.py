"""Instants in read models: fixed-width ISO 8601 UTC text, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


def iso(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return _iso(instant)


@lru_cache(maxsize=16_384)
def _iso(instant: datetime) -> str:
    # an event's instants are written by several read models: formatted once (equal aware
    # instants are equal keys whatever their zone, and give the same UTC text)
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
