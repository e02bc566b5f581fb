"""One tick: handle every missed deadline up to now. Safe to run twice or from two processes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from domain.application import SafeLoop, TickResult
from projections.store import UNAVAILABLE_ERRORS

log = logging.getLogger("safeloop.jobs")


def run_tick(app: SafeLoop, clock: Callable[[], datetime]) -> TickResult | None:
    now = clock()
    try:
        result = app.tick(now)
    except UNAVAILABLE_ERRORS as e:
        log.warning("tick skipped: store unavailable", extra={"error": str(e)})
        return None
    if result.renoticed or result.reminded or result.conflicts:
        log.info(
            "tick",
            extra={
                "now": now.isoformat(),
                "checked": result.checked,
                "renoticed": result.renoticed,
                "reminded": result.reminded,
                "conflicts": result.conflicts,
            },
        )
    return result
