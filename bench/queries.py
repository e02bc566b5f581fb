"""Board, list and inbox queries as history grows: p99 at N items against p99 at a few hundred.

A generated history (``safeloop generate``: 300 findings in every state, with leaders'
inboxes filled by notices and escalations) is the baseline: each query is timed there. Then
the history grows to N items the way a mine's does — older, finished items (closed, voided,
merged) and old inbox messages (read): the read-model rows of the finished items are copied
under fresh ids and earlier positions (what the projections would have written for them) —
and each query is timed again. Goal: p99 < 20 ms and flat (ratio near 1).

    .venv/bin/python bench/queries.py [--size ITEMS]     # default 100,000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _harness import arguments, latencies, on_each_store, opened, pct, report

from projections.boards import COLUMNS, board, list_items
from projections.notifications import INBOX_COLUMNS, inbox
from safeloop.generate import generate
from safeloop.settings import Settings
from safeloop.system import System

REPEAT = 200
FINISHED = ("CLOSED", "VOID", "MERGED")
#: every column of the inbox table (the rows a read model writes, then their read state)
INBOX = (*INBOX_COLUMNS, "read_at", "acknowledged_at")


def count(system: System, sql: str) -> int:
    with system.store.read() as cur:
        return int(cur.execute(sql).fetchone()["n"])


def grow(system: System, items: int) -> None:
    """Double the finished items (and their inbox rows) until there are ``items`` items."""
    round_no = 0
    while count(system, "SELECT COUNT(*) AS n FROM hazard_board") < items:
        round_no += 1
        with system.store.write() as cur:
            span = cur.execute("SELECT MAX(seq) - MIN(seq) + 1 AS n FROM hazard_board").fetchone()
            columns = ",".join(COLUMNS)
            picked = ",".join(
                f"id || '-{round_no}'"
                if c == "id"
                else f"seq - {int(span['n'])}"
                if c == "seq"
                else f"number || '-{round_no}'"
                if c == "number"
                else c
                for c in COLUMNS
            )
            states = ",".join(f"'{s}'" for s in FINISHED)
            cur.execute(
                f"INSERT INTO hazard_board ({columns}) SELECT {picked} FROM hazard_board"
                f" WHERE state IN ({states})"
            )
            span = cur.execute(
                "SELECT MAX(position) - MIN(position) + 1 AS n FROM inbox"
            ).fetchone()
            picked = ",".join(
                f"id || '-{round_no}'"
                if c == "id"
                else f"position - {int(span['n'])}"
                if c == "position"
                else "COALESCE(read_at, created_at)"
                if c == "read_at"
                else c
                for c in INBOX
            )
            # old messages: read long ago
            cur.execute(f"INSERT INTO inbox ({','.join(INBOX)}) SELECT {picked} FROM inbox")
    with system.store.write() as cur:
        if system.store.dialect == "postgres":
            cur.execute("ANALYZE hazard_board")
            cur.execute("ANALYZE inbox")
        else:
            cur.execute("ANALYZE")


def queries(system: System) -> dict[str, Callable[[], Any]]:
    store = system.store
    with store.read() as cur:
        busiest = cur.execute(
            "SELECT person, COUNT(*) AS n FROM inbox GROUP BY person ORDER BY n DESC LIMIT 1"
        ).fetchone()["person"]
    return {
        "board ZC1": lambda: board(store, "ZC1"),
        "list (newest 50)": lambda: list_items(store),
        "list ZC1": lambda: list_items(store, department="ZC1"),
        "list SUBMITTED": lambda: list_items(store, state="SUBMITTED"),
        "list overdue": lambda: list_items(store, overdue=True),
        f"inbox {busiest}": lambda: inbox(store, busiest),
    }


def bench(name: str, settings: Settings, n: int) -> None:
    with opened(settings) as system:
        generate(system, items=300, days=30, seed=1)
        small = count(system, "SELECT COUNT(*) AS n FROM hazard_board")
        before = {q: latencies(run, REPEAT) for q, run in queries(system).items()}
        grow(system, n)
        big = count(system, "SELECT COUNT(*) AS n FROM hazard_board")
        messages = count(system, "SELECT COUNT(*) AS n FROM inbox")
        after = {q: latencies(run, REPEAT) for q, run in queries(system).items()}
    print(f"[{name}] {small:,} items, then {big:,} items ({messages:,} inbox rows)")
    for q in before:
        print(
            f"[{name}] {q}: p50 {pct(before[q], 50):.2f} -> {pct(after[q], 50):.2f} ms,"
            f" p99 {pct(before[q], 99):.2f} -> {pct(after[q], 99):.2f} ms"
        )
    worst = max(before, key=lambda q: pct(after[q], 99))
    report(
        f"[{name}] worst p99 ({worst}) at {big:,} items vs at {small:,}",
        pct(after[worst], 99),
        pct(before[worst], 99),
        "ms",
        "p99 < 20 ms, ratio near 1 (flat)",
    )


def main() -> None:
    args = arguments(__doc__ or "", 100_000, "items after growing")
    on_each_store(args, bench)


if __name__ == "__main__":
    main()
