"""The daily digest job: once the configured local time has passed, issue yesterday's."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.app_base import CommandResult
from domain.application import SafeLoop
from projections.checklists import missing_on_day
from projections.digest import daily, summary_of
from projections.store import UNAVAILABLE_ERRORS, ViewStore

log = logging.getLogger("safeloop.jobs")


def due_day(now: datetime, zone: ZoneInfo, at: time) -> date:
    """The last site day whose digest is due at ``now`` (its next day's ``at`` has passed)."""
    local = now.astimezone(zone)
    days_back = 1 if local.time() >= at else 2
    return local.date() - timedelta(days=days_back)


def issue_digest(app: SafeLoop, store: ViewStore, day: date, now: datetime) -> CommandResult | None:
    """Issue the digest of ``day`` (None if it was issued already)."""
    if app.digest(day) is not None:
        return None
    data = daily(
        store,
        day,
        zone=app.policy.zone,
        repeat_window_days=app.policy.repeat_window_days,
        now=now,
    )
    summary = summary_of(data)
    summary["missing_checklists"] = len(missing_on_day(store, app.policy, day, now))
    result = app.issue_digest(day, summary=summary, now=now)
    return result if result.created else None


def run_digest(
    app: SafeLoop, store: ViewStore, clock: Callable[[], datetime], at: time
) -> CommandResult | None:
    now = clock()
    day = due_day(now, app.policy.zone, at)
    try:
        result = issue_digest(app, store, day, now)
    except UNAVAILABLE_ERRORS as e:
        log.warning("digest skipped: store unavailable", extra={"error": str(e)})
        return None
    if result is not None:
        log.info("digest issued", extra={"day": day.isoformat()})
    return result
