"""Commands: 8 concurrent writers appending events on PostgreSQL, against raw INSERTs.

Baseline: 8 connections each doing single-row INSERTs (one transaction each) into a table of
the same shape as the event log. Measured: 8 threads each appending one event per save through
the Application (a counter aggregate advanced and saved: the NUL check, the re-stamping, the
recorder with its table lock and NOTIFY), and 8 threads running real commands on their own
findings (submit, then a failed recheck, again and again: a load and a save each). Goal: the
appends reach ≥ 50 % of the raw INSERTs.

    .venv/bin/python bench/commands.py [--size EVENTS]     # default 2,000 per figure
"""

from __future__ import annotations

import statistics
import threading
import uuid
from collections.abc import Callable

import psycopg
from _harness import (
    PG_URL,
    T0,
    arguments,
    fake_clock,
    opened,
    report,
    store_settings,
    timed,
    with_org,
)

from domain.sequence import NumberSequence
from tests.conftest import noticed_finding

WRITERS = 8
ROUNDS = 3


def in_threads(work: Callable[[int], None]) -> float:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as e:  # report, do not hang
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]

    def all_threads() -> None:
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    took = timed(all_threads)
    if errors:
        raise errors[0]
    return took


def raw_table(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{schema}".raw_events (originator_id uuid NOT NULL,'
            " originator_version bigint NOT NULL, topic text NOT NULL, state bytea,"
            " notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
        )
        conn.execute(f'CREATE UNIQUE INDEX ON "{schema}".raw_events (notification_id)')


def raw_inserts(schema: str, per_writer: int) -> float:
    state = b'{"timestamp":"2026-11-02T00:00:00+00:00","value":1}' * 3

    def work(_: int) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            oid = uuid.uuid4()
            for v in range(1, per_writer + 1):
                conn.execute(
                    f'INSERT INTO "{schema}".raw_events VALUES (%s, %s, %s, %s)',
                    (oid, v, "domain.sequence:NumberSequence.Advanced", state),
                )

    return WRITERS * per_writer / in_threads(work)


def appends(system, per_writer: int) -> float:  # type: ignore[no-untyped-def]
    app = system.app
    counters = [NumberSequence.start(f"bench-{i}-{uuid.uuid4()}", T0) for i in range(WRITERS)]
    app.save(*counters)

    def work(i: int) -> None:
        counter = counters[i]
        for _ in range(per_writer):
            counter.next(T0)
            app.save(counter)

    return WRITERS * per_writer / in_threads(work)


def commands(system, per_writer: int) -> float:  # type: ignore[no-untyped-def]
    app = system.app
    ids = []
    for i in range(WRITERS):
        ids.append(
            noticed_finding(app, T0.replace(year=2027), client_ref=f"bench-{i}-{uuid.uuid4()}")
        )

    def work(i: int) -> None:
        for n in range(per_writer // 2):
            app.submit(ids[i], evidence=[f"photo {n}"], note="", actor="u1", now=T0)
            app.recheck(ids[i], passed=False, note="不合格", actor="a1", now=T0)

    return WRITERS * (per_writer // 2) * 2 / in_threads(work)


def main() -> None:
    args = arguments(__doc__ or "", 2000, "events per figure")
    per_writer = max(1, args.size // WRITERS // ROUNDS)
    with store_settings("postgres") as settings:
        if settings is None:
            return
        with opened(settings, fake_clock()) as system:
            with_org(system)
            raw_table(settings.database_schema)
            # alternate, so both see the same load from whatever else runs on the machine
            raw, saved, done = [], [], []
            for _ in range(ROUNDS):
                raw.append(raw_inserts(settings.database_schema, per_writer))
                saved.append(appends(system, per_writer))
                done.append(commands(system, per_writer))
        total = WRITERS * per_writer * ROUNDS
        print(f"[postgres] {WRITERS} writers, {total:,} events per figure in {ROUNDS} rounds")
        base = statistics.median(raw)
        report(
            "appends (app.save, 1 event each)",
            statistics.median(saved),
            base,
            "events/s",
            "ratio >= 0.50",
        )
        report(
            "commands (load + command + save)",
            statistics.median(done),
            base,
            "events/s",
            "(for information)",
        )


if __name__ == "__main__":
    main()
