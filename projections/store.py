"""Where read models live: the same database as the events (SQLite file or PostgreSQL).

SQL is written once with ``?`` placeholders; the PostgreSQL store translates them. Both
stores give rows that can be indexed by column name.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg
import psycopg_pool
from eventsourcing.persistence import OperationalError as ESOperationalError
from psycopg.rows import dict_row

Row = Mapping[str, Any]

#: errors meaning "the store is unreachable or busy right now" (HTTP 503, retry later)
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    ESOperationalError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    sqlite3.OperationalError,
)


class Cursor(ABC):
    """The few cursor operations the read models use."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def fetchone(self) -> Row | None: ...

    @abstractmethod
    def fetchall(self) -> list[Row]: ...

    @property
    @abstractmethod
    def rowcount(self) -> int: ...


#: values per ``IN (…)`` list (well under SQLite's limit on bound parameters)
IN_CHUNK = 500


def select_in(
    cur: Cursor, sql: str, values: Sequence[Any], params: Sequence[Any] = ()
) -> list[Row]:
    """The rows of ``sql`` — ending in ``… IN`` — for ``values`` (any number of them: one
    statement per chunk of ``IN_CHUNK``); ``params`` are the placeholders before the list."""
    rows: list[Row] = []
    for start in range(0, len(values), IN_CHUNK):
        chunk = list(values[start : start + IN_CHUNK])
        marks = ",".join("?" * len(chunk))
        rows += cur.execute(f"{sql} ({marks})", [*params, *chunk]).fetchall()
    return rows


class ViewStore(ABC):
    dialect: str

    @abstractmethod
    def write(self, *, pipelined: bool = False) -> Any:
        """Context manager: a cursor in one write transaction (committed on success).

        ``pipelined``: statements whose results are not read are sent without waiting for
        each answer (PostgreSQL's pipeline mode; SQLite has no round trips to save)."""

    @abstractmethod
    def read(self) -> Any:
        """Context manager: a cursor in one read-only, consistent snapshot."""

    @abstractmethod
    def close(self) -> None: ...

    def ping(self) -> None:
        with self.read() as cur:
            cur.execute("SELECT 1").fetchone()

    def for_update(self) -> str:
        """Row-lock suffix for a SELECT inside a write transaction."""
        return " FOR UPDATE" if self.dialect == "postgres" else ""


# -- SQLite ------------------------------------------------------------------------------------


class _SQLiteCursor(Cursor):
    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self._cur.execute(sql, params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cur.executemany(sql, rows)

    def fetchone(self) -> Row | None:
        row: Row | None = self._cur.fetchone()
        return row

    def fetchall(self) -> list[Row]:
        return list(self._cur.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class SQLiteViewStore(ViewStore):
    """One connection per thread to the SQLite file; writes take the lock up front."""

    dialect = "sqlite"

    def __init__(self, path: str, busy_timeout_s: float = 60.0) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self, *, pipelined: bool = False) -> Iterator[Cursor]:
        conn = self._conn()
        # IMMEDIATE takes the write lock now (waiting up to busy_timeout), so a read
        # followed by a write in this transaction can never fail with "database is locked".
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _SQLiteCursor(conn.cursor())
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield _SQLiteCursor(conn.cursor())
        finally:
            conn.rollback()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


# -- PostgreSQL --------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


#: rows per set-based statement (bounds the size of one statement's parameter)
MAX_ROWS = 5_000

_INSERT = re.compile(
    r"^\s*INSERT\s+INTO\s+(\w+)\s*\(([\w\s,]+)\)\s*VALUES\s*\(([\s?,]+)\)(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_DO_UPDATE = re.compile(r"\bDO\s+UPDATE\b", re.IGNORECASE)
_CONFLICT_KEY = re.compile(r"\bON\s+CONFLICT\s*\(([\w\s,]+)\)\s*DO\s+UPDATE\b", re.IGNORECASE)
_UPDATE = re.compile(
    r"^\s*UPDATE\s+(\w+)\s+SET\s+(\w+\s*=\s*\?(?:\s*,\s*\w+\s*=\s*\?)*)"
    r"\s+WHERE\s+(\w+\s*=\s*\?(?:\s+AND\s+\w+\s*=\s*\?)*)\s*$",
    re.IGNORECASE,
)
_DELETE = re.compile(
    r"^\s*DELETE\s+FROM\s+(\w+)\s+WHERE\s+(\w+\s*=\s*\?(?:\s+AND\s+\w+\s*=\s*\?)*)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _SetBased:
    """Many rows of one statement sent as one statement over a JSON array of the rows
    (``json_populate_recordset`` turns it into rows of the table's own column types)."""

    sql: str  # with one parameter: the rows as a JSON array of objects
    columns: tuple[str, ...]  # the row's values, in order
    #: for an upsert (ON CONFLICT … DO UPDATE): the positions of the conflict key in a row;
    #: one statement may not update a row twice, so a repeated key starts a new statement
    key: tuple[int, ...] | None = None
    #: for a plain INSERT (no ON CONFLICT): the COPY statement that loads the same rows
    copy: str | None = None


def _split_names(names: str, separator: str = ",") -> tuple[str, ...]:
    return tuple(name.strip() for name in re.split(separator, names, flags=re.IGNORECASE))


def _assigned(text: str, separator: str) -> tuple[str, ...]:
    """The column names of ``a = ?, b = ?`` (or ``a = ? AND b = ?``)."""
    return tuple(part.split("=")[0].strip() for part in _split_names(text, separator))


@lru_cache(maxsize=256)
def _set_based(sql: str) -> _SetBased | None:
    """The set-based form of an ``INSERT … VALUES (?, …)``, ``UPDATE … SET a = ?, … WHERE
    k = ? AND …`` or ``DELETE … WHERE k = ? AND …`` statement, or None when it has another
    shape (then it is sent row by row)."""
    insert = _INSERT.match(sql)
    if insert:
        table, names, marks, tail = insert.groups()
        columns = _split_names(names)
        if marks.count("?") != len(columns) or "?" in tail or "%" in tail:
            return None
        key = None
        if _DO_UPDATE.search(tail):
            target = _CONFLICT_KEY.search(tail)
            wanted = _split_names(target.group(1)) if target else ()
            if not wanted or any(c not in columns for c in wanted):
                return None
            key = tuple(columns.index(c) for c in wanted)
        listed = ", ".join(columns)
        return _SetBased(
            f"INSERT INTO {table} ({listed}) SELECT {listed}"
            f" FROM json_populate_recordset(NULL::{table}, %s::json){tail}",
            columns,
            key,
            None if tail.strip() else f"COPY {table} ({listed}) FROM STDIN",
        )
    update = _UPDATE.match(sql)
    if update:
        table, assignments, condition = update.groups()
        sets = _assigned(assignments, ",")
        keys = _assigned(condition, r"\s+AND\s+")
        columns = sets + keys
        if len(set(columns)) != len(columns):
            return None  # a column both set and matched: one JSON object cannot say both
        return _SetBased(
            f"UPDATE {table} AS o SET {', '.join(f'{c} = v.{c}' for c in sets)}"
            f" FROM json_populate_recordset(NULL::{table}, %s::json) AS v"
            f" WHERE {' AND '.join(f'o.{c} = v.{c}' for c in keys)}",
            columns,
            tuple(range(len(sets), len(columns))),  # one statement updates a row once
        )
    delete = _DELETE.match(sql)
    if delete:
        table, condition = delete.groups()
        columns = _assigned(condition, r"\s+AND\s+")
        listed = ", ".join(columns)
        return _SetBased(
            f"DELETE FROM {table} WHERE ({listed}) IN"
            f" (SELECT {listed} FROM json_populate_recordset(NULL::{table}, %s::json))",
            columns,
        )
    return None


def _chunks(shape: _SetBased, rows: Sequence[Sequence[Any]]) -> Iterator[Sequence[Sequence[Any]]]:
    """Consecutive runs of rows, each small enough for one statement and (for an upsert)
    with no conflict key twice — so the statements do what the rows one by one would do."""
    start = 0
    seen: set[tuple[Any, ...]] = set()
    for i, row in enumerate(rows):
        if shape.key is not None:
            key = tuple(row[k] for k in shape.key)
            if key in seen:
                yield rows[start:i]
                start, seen = i, set()
            seen.add(key)
        if i + 1 - start == MAX_ROWS:
            yield rows[start : i + 1]
            start, seen = i + 1, set()
    if start < len(rows):
        yield rows[start:]


class _PgCursor(Cursor):
    def __init__(
        self, cur: psycopg.Cursor[dict[str, Any]], pipeline: psycopg.Pipeline | None = None
    ) -> None:
        self._cur = cur
        self._pipeline = pipeline

    def _fresh(self) -> psycopg.Cursor[dict[str, Any]]:
        """In pipeline mode each statement gets its own cursor, so a fetch reads the answer
        to its own statement, never one still queued before it."""
        if self._pipeline is not None:
            self._cur = self._cur.connection.cursor()
        return self._cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self._fresh().execute(_pg_sql(sql), params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows of an INSERT, or of an UPDATE or DELETE by key, go out as one or a few
        statements (a statement per row costs the client far more than the server's work):
        a plain INSERT as a COPY (outside pipeline mode, which cannot COPY), the others as a
        statement over a JSON array of the rows. Other statements, and rows JSON cannot
        carry, go row by row."""
        shape = _set_based(sql) if len(rows) > 1 else None
        if shape is not None and shape.copy and self._pipeline is None:
            with self._cur.copy(shape.copy) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        if shape is not None:
            try:
                documents = [
                    json.dumps(
                        [dict(zip(shape.columns, row, strict=True)) for row in chunk],
                        allow_nan=False,  # JSON has no NaN or infinity
                    )
                    for chunk in _chunks(shape, rows)
                ]
            except (TypeError, ValueError):
                shape = None  # bytes, a date, an infinity: not JSON
        if shape is None:
            self._fresh().executemany(_pg_sql(sql), rows)
            return
        for document in documents:
            self._fresh().execute(shape.sql, (document,))

    def fetchone(self) -> Row | None:
        return self._cur.fetchone()

    def fetchall(self) -> list[Row]:
        return list(self._cur.fetchall())

    @property
    def rowcount(self) -> int:
        if self._pipeline is not None:
            self._pipeline.sync()  # the count is known once the statement's answer is in
        return self._cur.rowcount


class PostgresViewStore(ViewStore):
    dialect = "postgres"

    def __init__(
        self,
        conninfo: Mapping[str, Any],
        schema: str = "public",
        pool_size: int = 10,
        connect_timeout: float = 5.0,
    ) -> None:
        self.conninfo = dict(conninfo)
        self.schema = schema
        #: names this store's connections in pg_stat_activity
        self.application_name = f"safeloop-views:{schema}"[:63]
        self.pool: psycopg_pool.ConnectionPool[psycopg.Connection[dict[str, Any]]] = (
            psycopg_pool.ConnectionPool(
                kwargs={
                    **self.conninfo,
                    "row_factory": dict_row,
                    "options": f"-c search_path={schema}",
                    "application_name": self.application_name,
                    "connect_timeout": max(1, int(connect_timeout)),
                },
                min_size=1,
                max_size=pool_size,
                open=False,
                timeout=connect_timeout,
                name="safeloop-views",
                # a connection cut by a server restart is replaced, not handed out
                check=psycopg_pool.ConnectionPool.check_connection,
            )
        )
        self.pool.open(wait=False)

    @contextmanager
    def write(self, *, pipelined: bool = False) -> Iterator[Cursor]:
        with self.pool.connection() as conn:
            if not pipelined:
                with conn.transaction(), conn.cursor() as cur:
                    yield _PgCursor(cur)
                return
            with conn.pipeline() as pipeline, conn.transaction(), conn.cursor() as cur:
                yield _PgCursor(cur, pipeline)

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        # Rolled back at the end: reads never change anything.
        with (
            self.pool.connection() as conn,
            conn.transaction(force_rollback=True),
            conn.cursor() as cur,
        ):
            yield _PgCursor(cur)

    def listen_connection(self) -> psycopg.Connection[Any]:
        """A dedicated autocommit connection (for LISTEN); the caller closes it."""
        return psycopg.connect(
            **self.conninfo,
            autocommit=True,
            connect_timeout=5,
            application_name=self.application_name,
        )

    def close(self) -> None:
        self.pool.close()
