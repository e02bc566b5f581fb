"""Login rate limiting: after a few wrong passwords, each further attempt must wait longer.

A decision, not a sleep: ``wait(key, now)`` says how many seconds must pass before the next
attempt for ``key`` is even checked, so the server never holds a thread and tests drive it
with an injected clock. Kept in memory, per server process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class _Record:
    failures: int
    last_failure: datetime


class LoginThrottle:
    def __init__(
        self,
        *,
        free_failures: int = 3,
        base_seconds: float = 2.0,
        max_seconds: float = 300.0,
        forget_after: timedelta = timedelta(minutes=30),
        max_keys: int = 50_000,
    ) -> None:
        self.free_failures = free_failures
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.forget_after = forget_after
        self.max_keys = max_keys
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def delay_after(self, failures: int) -> float:
        """Seconds to wait after ``failures`` wrong attempts in a row (doubling, capped)."""
        extra = failures - self.free_failures
        if extra < 0:
            return 0.0
        return float(min(self.max_seconds, self.base_seconds * 2**extra))

    def wait(self, key: str, now: datetime) -> float:
        """Seconds before an attempt for ``key`` will be checked (0: go ahead)."""
        with self._lock:
            record = self._records.get(key)
            if record is None:
                return 0.0
            if now - record.last_failure > self.forget_after:
                del self._records[key]
                return 0.0
            ready = record.last_failure + timedelta(seconds=self.delay_after(record.failures))
            return max(0.0, (ready - now).total_seconds())

    def failed(self, key: str, now: datetime) -> None:
        with self._lock:
            record = self._records.pop(key, None)
            if record is None or now - record.last_failure > self.forget_after:
                record = _Record(0, now)
            record.failures += 1
            record.last_failure = now
            self._records[key] = record
            while len(self._records) > self.max_keys:
                self._records.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._records.pop(key, None)
