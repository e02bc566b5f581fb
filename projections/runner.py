"""Keeps the read models up to date by following the application's notification log.

One runner serves every read model and works on both stores: it reads a batch of
notifications once, and applies to each read model the part it has not yet seen, in one
transaction per batch (on PostgreSQL a big batch in two transactions side by side, each taking
read models from a shared queue), with each read model's tracking position updated in the same
transaction as its rows. On PostgreSQL a batch's rows go out as COPY and set-based statements,
not one statement per row (see ``projections.store``). It polls, and is woken after each local save
(SQLite cannot subscribe) and by PostgreSQL's NOTIFY. When the store goes away it backs off
and retries until it is back.

Several runners (e.g. two server processes) may follow the same store: the tracking rows are
locked inside each transaction, so each event is applied exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_never,
    wait_exponential,
)

from domain.application import SafeLoop
from projections.base import Item, Projection, RawItem
from projections.store import UNAVAILABLE_ERRORS, Cursor, PostgresViewStore, ViewStore
from projections.timefmt import iso

log = logging.getLogger("safeloop.projections")

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    " name TEXT PRIMARY KEY, position BIGINT NOT NULL, updated_at TEXT)"
)
#: the definition each read model's tables were built with (a change rebuilds them)
SCHEMA_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_schema (name TEXT PRIMARY KEY, fingerprint TEXT)"
)
RETRYABLE = (*UNAVAILABLE_ERRORS, PersistenceError)


class _Reset(Exception):
    """A read model's tracking position went back (reset by another process) since the
    positions the batch was read from: the batch is read again from the store's."""


@dataclass(frozen=True)
class Status:
    name: str
    position: int
    head: int
    updated_at: str | None

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


class ProjectionRunner:
    def __init__(
        self,
        app: SafeLoop,
        store: ViewStore,
        projections: Sequence[Projection],
        *,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
        workers: int = 2,
        parallel_from: int = 100,
        channel: str = "safeloop_events",
    ) -> None:
        self.app = app
        self.store = store
        self.projections = list(projections)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        #: transactions applying a batch side by side on PostgreSQL (SQLite has one writer)
        self.workers = workers
        #: batches this big are applied by the workers side by side (and with COPY); smaller
        #: ones (a command waiting for its answer) in one pipelined transaction
        self.parallel_from = parallel_from
        self.channel = channel
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        self._positions: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self.last_error: str | None = None
        app.on_saved(lambda _position: self.wake())

    # -- set-up ------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the tables and tracking rows that do not exist yet."""
        with self.store.write() as cur:
            cur.execute(TRACKING_DDL)
            cur.execute(SCHEMA_DDL)
            known = {
                row["name"]: row["fingerprint"]
                for row in cur.execute("SELECT name, fingerprint FROM projection_schema").fetchall()
            }
            for projection in self.projections:
                fingerprint = projection.fingerprint(self.store.dialect)
                if known.get(projection.name) != fingerprint:
                    # A new or changed definition: start this read model again from zero.
                    for table in projection.tables:
                        cur.execute(f"DROP TABLE IF EXISTS {table}")
                    cur.execute(
                        "UPDATE projection_tracking SET position = 0 WHERE name = ?",
                        (projection.name,),
                    )
                    cur.execute(
                        "INSERT INTO projection_schema (name, fingerprint) VALUES (?, ?)"
                        " ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint",
                        (projection.name, fingerprint),
                    )
                for statement in projection.ddl(self.store.dialect):
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO projection_tracking (name, position, updated_at) VALUES (?, 0, ?)"
                    " ON CONFLICT (name) DO NOTHING",
                    (projection.name, None),
                )
        self._positions = self._read_positions()

    def projection(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        raise KeyError(name)

    # -- applying ----------------------------------------------------------------------------

    def _read_positions(self) -> dict[str, int]:
        with self.store.read() as cur:
            rows = cur.execute("SELECT name, position FROM projection_tracking").fetchall()
        found = {row["name"]: int(row["position"]) for row in rows}
        return {p.name: found.get(p.name, 0) for p in self.projections}

    def run_once(self, known: dict[str, int] | None = None) -> int:
        """Apply the next batch; return how many notifications were read (0: caught up).

        ``known``: the positions this runner last published, to start from without reading
        them first (after a wake-up: a command's answer waits for this batch, and on
        PostgreSQL that read is a few round trips). The positions locked in the batch's
        transaction still decide what is applied; if one went back (a read model was reset
        by another process), nothing of it is applied and the batch starts again from the
        store's positions.
        """
        positions = dict(known) if known is not None else self._read_positions()
        start = min(positions.values(), default=0)
        notifications = self.app.recorder.select_notifications(
            start=start + 1, limit=self.batch_size
        )
        if not notifications:
            self._publish(positions)
            return 0
        raw: list[RawItem] = [(n.id, n, self.app.mapper.to_domain_event(n)) for n in notifications]
        items: list[Item] = [(position, event) for position, _, event in raw]
        last = items[-1][0]
        behind = [p for p in self.projections if positions[p.name] < last]
        try:
            if (
                self.store.dialect == "postgres"
                and len(items) >= self.parallel_from
                and min(self.workers, len(behind)) > 1
            ):
                reached = self._apply_parallel(behind, positions, raw, items)
            else:
                reached = self._apply_together(behind, positions, raw, items)
        except _Reset:
            return self.run_once()
        positions.update(reached)
        self._publish(positions)
        return len(items)

    def _apply_together(
        self,
        behind: Sequence[Projection],
        positions: dict[str, int],
        raw: list[RawItem],
        items: list[Item],
    ) -> dict[str, int]:
        """One transaction for the batch across the read models (one commit, one flush to
        disk). A small batch (what a command's answer waits for) is pipelined on PostgreSQL:
        its few rows go out without a round trip each."""
        with self.store.write(pipelined=len(items) < self.parallel_from) as cur:
            locked = self._lock_tracking(cur)
            if any(locked[name] < position for name, position in positions.items()):
                raise _Reset
            moved: list[tuple[int, str | None, str]] = []
            reached: dict[str, int] = {}
            for projection in behind:
                position = locked[projection.name]
                reached[projection.name] = self._apply(
                    cur, projection, raw if projection.raw else items, position
                )
                if reached[projection.name] != position:
                    moved.append(
                        (reached[projection.name], iso(datetime.now(UTC)), projection.name)
                    )
            if moved:
                cur.executemany(
                    "UPDATE projection_tracking SET position = ?, updated_at = ? WHERE name = ?",
                    moved,
                )
        return reached

    def _lock_tracking(self, cur: Cursor) -> dict[str, int]:
        """Lock every read model's tracking row and read its position, in one statement (one
        round trip, not one per read model). Locked in name order — by code point, as Python
        sorts the parallel queue — so no two transactions wait on each other in a circle."""
        by_code_point = ' COLLATE "C"' if self.store.dialect == "postgres" else ""
        rows = cur.execute(
            f"SELECT name, position FROM projection_tracking ORDER BY name{by_code_point}"
            + self.store.for_update()
        ).fetchall()
        found = {row["name"]: int(row["position"]) for row in rows}
        return {p.name: found.get(p.name, 0) for p in self.projections}

    def _apply_parallel(
        self,
        behind: Sequence[Projection],
        positions: dict[str, int],
        raw: list[RawItem],
        items: list[Item],
    ) -> dict[str, int]:
        """A big batch on PostgreSQL: two transactions side by side, each taking read models
        from a shared queue. While one waits for the server, the other runs Python; the read
        models are independent (each reads and writes only its own tables).

        The queue is in name order, the order ``_lock_tracking`` locks every tracking row in:
        each transaction, here or in another runner, then takes its locks in one global
        order, so none waits for another in a circle (a queue in any other order deadlocked
        against another runner's small batch)."""
        queue = iter(sorted(behind, key=lambda p: p.name))
        lock = threading.Lock()

        def take() -> Projection | None:
            with lock:
                return next(queue, None)

        workers = min(self.workers, len(behind))
        with ThreadPoolExecutor(workers, thread_name_prefix="projections-apply") as pool:
            done = [
                pool.submit(self._apply_some, take, positions, raw, items) for _ in range(workers)
            ]
        reached: dict[str, int] = {}
        for future in done:
            reached.update(future.result())  # re-raises a worker's error (or _Reset)
        return reached

    def _apply_some(
        self,
        take: Callable[[], Projection | None],
        positions: dict[str, int],
        raw: list[RawItem],
        items: list[Item],
    ) -> dict[str, int]:
        """In one transaction, apply the batch to read models taken from the shared queue
        until it is empty; each tracking row moves with its read model's rows. A read model's
        tracking row is locked before it is applied, so two runners apply each event once;
        the queue is in name order (see ``_apply_parallel``)."""
        projection = take()
        if projection is None:
            return {}
        reached: dict[str, int] = {}
        with self.store.write() as cur:
            while projection is not None:
                row = cur.execute(
                    "SELECT position FROM projection_tracking WHERE name = ?"
                    + self.store.for_update(),
                    (projection.name,),
                ).fetchone()
                position = int(row["position"]) if row else 0
                if position < positions[projection.name]:
                    raise _Reset  # reset meanwhile: this transaction applies nothing
                moved = self._apply(cur, projection, raw if projection.raw else items, position)
                if moved != position:
                    cur.execute(
                        "UPDATE projection_tracking SET position = ?, updated_at = ?"
                        " WHERE name = ?",
                        (moved, iso(datetime.now(UTC)), projection.name),
                    )
                reached[projection.name] = moved
                projection = take()
        return reached

    @staticmethod
    def _apply(
        cur: Cursor,
        projection: Projection,
        items: Sequence[Item] | Sequence[RawItem],
        position: int,
    ) -> int:
        """Apply the items after ``position``; return the position reached."""
        todo = [item for item in items if item[0] > position]
        if not todo:
            return position
        if projection.raw:
            projection.apply_raw(cur, todo)  # type: ignore[arg-type]
        else:
            projection.apply(cur, todo)  # type: ignore[arg-type]
        return todo[-1][0]

    def _publish(self, positions: dict[str, int]) -> None:
        with self._cond:
            self._positions = dict(positions)
            self._cond.notify_all()

    def catch_up(self) -> int:
        """Apply everything recorded so far (synchronously); return notifications read."""
        total = 0
        while True:
            n = self.run_once()
            total += n
            if n < self.batch_size and (n == 0 or self.position() >= self.app.head()):
                return total

    # -- waiting -----------------------------------------------------------------------------

    def position(self) -> int:
        """The position every read model has reached (in this process's view)."""
        with self._cond:
            return min(self._positions.values(), default=0)

    def _known(self) -> dict[str, int]:
        with self._cond:
            return dict(self._positions)

    def wait_for(self, position: int | None, timeout: float) -> bool:
        """Block until every read model has applied ``position`` (read-your-writes)."""
        if position is None:
            return True
        if not self.running:
            self.catch_up()
            return self.position() >= position
        self.wake()
        deadline = time.monotonic() + timeout
        with self._cond:
            while min(self._positions.values(), default=0) < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def wake(self) -> None:
        self._wake.set()

    # -- the background threads --------------------------------------------------------------

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads) and not self._stopping.is_set()

    def start(self) -> None:
        if self._threads:
            return
        self._stopping.clear()
        self._threads = [threading.Thread(target=self._follow, name="projections", daemon=True)]
        if isinstance(self.store, PostgresViewStore):
            self._threads.append(
                threading.Thread(target=self._listen, name="projections-listen", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _retrying(self, what: str) -> Retrying:
        def before_sleep(state: Any) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.last_error = f"{type(error).__name__}: {error}"
            log.warning(
                "projection runner: %s failed, retrying",
                what,
                extra={"error": self.last_error, "attempt": state.attempt_number},
            )

        return Retrying(
            retry=retry_if_exception_type(RETRYABLE),
            wait=wait_exponential(multiplier=0.1, max=5),
            stop=stop_never,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)  # a stop interrupts the back-off

    def _follow(self) -> None:
        woken = False
        while not self._stopping.is_set():
            self._wake.clear()
            # Woken (by a save, or with more to do): start from the positions this runner
            # published. After a quiet poll interval: read them from the store, to see what
            # runners in other processes did.
            known = self._known() if woken else None
            try:
                n = self._retrying("applying events")(self.run_once, known)
            except Exception:  # a bug in a read model: log it, keep the server alive
                log.exception("projection runner: unexpected error")
                self.last_error = "unexpected error (see logs)"
                self._stopping.wait(self.poll_interval)
                woken = False
                continue
            if self.last_error is not None and n >= 0:
                log.info("projection runner: recovered")
                self.last_error = None
            woken = n >= self.batch_size or self._wake.wait(self.poll_interval)

    def _listen(self) -> None:
        assert isinstance(self.store, PostgresViewStore)
        while not self._stopping.is_set():
            try:
                with self.store.listen_connection() as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    self.wake()  # we may have missed notifications while disconnected
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.wake()
            except psycopg.Error as error:
                log.warning("projection listener: %s; reconnecting", error)
                self._stopping.wait(1.0)

    # -- operations --------------------------------------------------------------------------

    def status(self) -> list[Status]:
        head = self.app.head()
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT name, position, updated_at FROM projection_tracking"
            ).fetchall()
        by_name = {row["name"]: row for row in rows}
        return [
            Status(
                p.name,
                int(by_name[p.name]["position"]) if p.name in by_name else 0,
                head,
                by_name[p.name]["updated_at"] if p.name in by_name else None,
            )
            for p in self.projections
        ]

    def reset(self, names: Sequence[str] | None = None) -> None:
        """Drop the named read models' tables and start them from zero (in one transaction)."""
        chosen = [p for p in self.projections if names is None or p.name in names]
        unknown = set(names or ()) - {p.name for p in chosen}
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        with self.store.write() as cur:
            for projection in chosen:
                for table in projection.tables:
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in projection.ddl(self.store.dialect):
                    cur.execute(statement)
                cur.execute(
                    "UPDATE projection_tracking SET position = 0, updated_at = ? WHERE name = ?",
                    (iso(datetime.now(UTC)), projection.name),
                )
        self._positions = self._read_positions()

    def rebuild(self, names: Sequence[str] | None = None) -> int:
        self.reset(names)
        return self.catch_up()
