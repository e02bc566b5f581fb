"""The read models' ``executemany`` does what running its rows one by one does.

On PostgreSQL, a plain INSERT with many rows goes out as a COPY (outside pipeline mode); one
with ON CONFLICT, an ``UPDATE … SET a = ? WHERE k = ?`` and a ``DELETE … WHERE k = ?`` as a few
set-based statements over a JSON array of the rows. These tests compare the outcome with the
same rows sent one statement each, on both stores, including repeated keys, NULLs, text that
JSON and COPY escape, more rows than one statement takes, and values JSON cannot carry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from projections import store as store_module
from projections.store import PostgresViewStore, SQLiteViewStore, ViewStore, _set_based
from tests.conftest import PG_URL, drop_schema, pg_info, require_postgres

DDL = [
    "CREATE TABLE t (k TEXT NOT NULL, j INTEGER NOT NULL, v TEXT, n INTEGER NOT NULL DEFAULT 0,"
    " x REAL, PRIMARY KEY (k, j))",
]


@dataclass
class Pair:
    sets: ViewStore  # written with executemany
    one_by_one: ViewStore  # written with one execute per row
    pipelined: bool  # whether ``sets`` writes in PostgreSQL's pipeline mode (no COPY there)


@pytest.fixture(params=[False, True], ids=["plain", "pipelined"])
def stores(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Pair]:
    """Two empty stores of the kind: one to write in sets, one to write row by row."""
    made: list[ViewStore] = []
    schemas: list[str] = []
    for name in ("sets", "rows"):
        if store_kind == "sqlite":
            made.append(SQLiteViewStore(str(tmp_path / f"{name}.db")))
        else:
            require_postgres()
            schema = f"t_{uuid.uuid4().hex[:12]}"
            schemas.append(schema)
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            made.append(PostgresViewStore(pg_info(), schema))
    for store in made:
        with store.write() as cur:
            for statement in DDL:
                cur.execute(statement)
    try:
        yield Pair(made[0], made[1], request.param)
    finally:
        for store in made:
            store.close()
        for schema in schemas:
            drop_schema(schema)


def run(stores: Pair, sql: str, rows: list[tuple[Any, ...]]) -> None:
    with stores.sets.write(pipelined=stores.pipelined) as cur:
        cur.executemany(sql, rows)
    with stores.one_by_one.write() as cur:
        for row in rows:
            cur.execute(sql, row)


def table(store: ViewStore) -> list[dict[str, Any]]:
    with store.read() as cur:
        return [dict(r) for r in cur.execute("SELECT * FROM t ORDER BY k, j").fetchall()]


def same(stores: Pair) -> list[dict[str, Any]]:
    assert table(stores.sets) == table(stores.one_by_one)
    return table(stores.sets)


def test_inserts_upserts_updates_and_deletes_match_one_row_at_a_time(
    stores: Pair,
) -> None:
    text = '回风巷 "瓦斯" \\ 超限 🚧\n\t' + "x" * 2000
    run(
        stores,
        "INSERT INTO t (k, j, v, x) VALUES (?, ?, ?, ?)",
        [(f"k{i % 7}", i, text if i % 3 else None, i / 3) for i in range(50)]
        + [("text", 0, text, 0.5)],
    )
    # an accumulating upsert whose keys repeat in the batch: every row must count
    run(
        stores,
        "INSERT INTO t (k, j, v, n) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (k, j) DO UPDATE SET n = t.n + excluded.n, v = excluded.v",
        [(f"k{i % 7}", i % 20, f"v{i}", 1) for i in range(300)],
    )
    run(
        stores,
        "INSERT INTO t (k, j, v) VALUES (?, ?, ?) ON CONFLICT (k, j) DO NOTHING",
        [("k0", 0, "again"), ("new", 1, "first"), ("new", 1, "second")],
    )
    # an update whose keys repeat: the last row wins
    run(
        stores,
        "UPDATE t SET v = ?, x = ? WHERE k = ? AND j = ?",
        [(f"u{i}", None, f"k{i % 7}", i % 20) for i in range(100)],
    )
    run(stores, "DELETE FROM t WHERE k = ? AND j = ?", [("k1", j) for j in range(0, 60, 2)])
    rows = same(stores)
    counted = {(r["k"], r["j"]): r["n"] for r in rows}
    deleted = sum(1 for i in range(300) if i % 7 == 1 and i % 20 % 2 == 0)
    assert max(counted.values()) > 1  # keys did repeat within the batch
    assert sum(counted.values()) == 300 - deleted
    assert {r["v"] for r in rows if r["k"] == "new"} == {"first"}
    assert [(r["v"], r["x"]) for r in rows if r["k"] == "text"] == [(text, 0.5)]


def test_more_rows_than_one_statement_takes(stores: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "MAX_ROWS", 7)
    run(
        stores,
        "INSERT INTO t (k, j, n) VALUES (?, ?, ?) ON CONFLICT (k, j) DO UPDATE SET n = t.n + 1",
        [("k", i % 10, 0) for i in range(95)],
    )
    rows = same(stores)
    assert sum(r["n"] for r in rows) == 95 - 10


def test_values_json_cannot_carry_go_row_by_row(stores: Pair) -> None:
    # JSON has no infinity: these rows go one by one and still arrive
    run(
        stores,
        "INSERT INTO t (k, j, x) VALUES (?, ?, ?)",
        [("k", 1, float("inf")), ("k", 2, float("-inf")), ("k", 3, 1.5)],
    )
    assert [r["x"] for r in same(stores)] == [float("inf"), float("-inf"), 1.5]


def test_which_statements_are_sent_as_sets() -> None:
    assert _set_based("INSERT INTO t (a, b) VALUES (?, ?)") is not None
    assert _set_based("UPDATE t SET a = ? WHERE b = ?") is not None
    assert _set_based("DELETE FROM t WHERE a = ? AND b = ?") is not None
    # other shapes go row by row
    assert _set_based("INSERT INTO t (a, b) VALUES (?, now())") is None
    assert _set_based("INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET b = ?") is None
    assert _set_based("INSERT INTO t (a) VALUES (?) ON CONFLICT DO UPDATE SET a = 1") is None
    assert _set_based("UPDATE t SET a = ? WHERE a = ?") is None
    assert _set_based("UPDATE t SET a = ? WHERE b = ? AND c IS NULL") is None
    assert _set_based("UPDATE t SET a = COALESCE(a, ?) WHERE b = ?") is None
    assert _set_based("DELETE FROM t WHERE a < ?") is None
