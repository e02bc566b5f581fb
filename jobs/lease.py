"""Which scheduler acts: on PostgreSQL, the holder of a session-level advisory lock.

The lease is an optimisation, not a safeguard: every job is safe to run twice (the
aggregates decide, deliveries are claimed), so a short overlap while a lease changes hands
costs nothing. Standbys try to take the lease each time one of their jobs is due; the
lock is released as soon as the holder's connection ends (its process died, or
PostgreSQL noticed the peer gone through TCP keepalives), so a standby takes over within
a job interval (the outbox's, 10 s by default) and then runs the tick and the digest at once
(jobs/scheduler.py ``Guard``). Both moves are logged: "stands by" once, "lease taken".
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import psycopg

log = logging.getLogger("safeloop.jobs")


class Lease(Protocol):
    def held(self) -> bool:
        """Whether this process may run the jobs now (tries to take the lease if free)."""

    def release(self) -> None: ...


class AlwaysHeld:
    """No lease (SQLite, or one process): always run."""

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


def lease_key(name: str) -> int:
    """A signed 64-bit advisory-lock key from a name (e.g. the schema)."""
    digest = hashlib.sha256(f"safeloop-scheduler:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLease:
    """A PostgreSQL session advisory lock held on a dedicated connection."""

    def __init__(self, conninfo: Mapping[str, Any], name: str) -> None:
        self.conninfo = dict(conninfo)
        self.key = lease_key(name)
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        self._standing_by = False

    def held(self) -> bool:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("SELECT 1")
                    return True
                except psycopg.Error:
                    log.warning("scheduler lease lost (connection closed)")
                    self._close()
            return self._take()

    def _take(self) -> bool:
        try:
            conn = psycopg.connect(
                **self.conninfo,
                autocommit=True,
                connect_timeout=5,
                application_name="safeloop-scheduler-lease",
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
        except psycopg.Error as e:
            log.warning("scheduler lease: cannot connect: %s", e)
            return False
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except psycopg.Error:
            conn.close()
            return False
        if row and row[0]:
            self._conn = conn
            self._standing_by = False
            log.info("scheduler lease taken: this process runs the jobs")
            return True
        conn.close()
        if not self._standing_by:
            self._standing_by = True
            log.info("scheduler lease held by another process: this process stands by")
        return False

    def release(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    @property
    def backend_pid(self) -> int | None:
        """The holder's server process (for tests and operators), or None."""
        return self._conn.info.backend_pid if self._conn is not None else None
