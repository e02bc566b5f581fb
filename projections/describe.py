"""One event as plain data: what the timeline stores and the history endpoint returns."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from projections.timefmt import iso

BASE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "occurred_at"}
)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def event_type(event: Any) -> str:
    return type(event).__name__


def describe(event: Any) -> dict[str, Any]:
    """``{type, actor, occurred_at, recorded_at, data}`` for any aggregate event."""
    fields = vars(event)
    return {
        "type": event_type(event),
        "actor": fields.get("actor"),
        "occurred_at": iso(fields.get("occurred_at") or event.timestamp),
        "recorded_at": iso(event.timestamp),
        "data": {k: jsonable(v) for k, v in fields.items() if k not in BASE_FIELDS},
    }
