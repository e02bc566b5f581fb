"""Projection catch-up and rebuild: events per second through every read model.

Fills a fresh store with a generated history (``safeloop generate``: every state, overdue
periods, failed rechecks) copied under fresh ids up to N events (straight into the log, as a
restore would), then measures: the baseline — the same runner applying one event per
transaction (what a naive subscriber does) over the first events; catch-up — the runner as
configured, from an empty read-model state to the head; rebuild — ``projections rebuild``
(drop every read model's tables, then catch up). Goal: ≥ 20,000 events/s on PostgreSQL.

    .venv/bin/python bench/catchup.py [--size EVENTS]     # default 30,000
"""

from __future__ import annotations

from _harness import (
    arguments,
    copy_history,
    hazard_rows,
    on_each_store,
    opened,
    report,
    timed,
)

from projections.runner import ProjectionRunner
from safeloop.generate import generate
from safeloop.settings import Settings

BASELINE_EVENTS = 500


def bench(name: str, settings: Settings, n: int) -> None:
    with opened(settings) as system:
        generate(system, items=300, days=30, seed=1)
        template = hazard_rows(system)
        copy_history(system, template, max(0, n - system.app.head()))
        head = system.app.head()
        runner = system.runner
        one_by_one = ProjectionRunner(system.app, system.store, runner.projections, batch_size=1)
        runner.reset()
        t = timed(lambda: [one_by_one.run_once() for _ in range(BASELINE_EVENTS)])
        baseline = BASELINE_EVENTS / t
        runner.reset()
        catch = head / timed(runner.catch_up)
        rebuild = head / timed(runner.rebuild)
    print(f"[{name}] {head:,} events, batch size {runner.batch_size}")
    report(
        f"[{name}] catch-up vs one event per transaction",
        catch,
        baseline,
        "events/s",
        ">= 20,000 events/s on PostgreSQL",
    )
    report(
        f"[{name}] rebuild vs one event per transaction",
        rebuild,
        baseline,
        "events/s",
        ">= 20,000 events/s on PostgreSQL",
    )


def main() -> None:
    args = arguments(__doc__ or "", 30_000, "events in the log")
    on_each_store(args, bench)


if __name__ == "__main__":
    main()
