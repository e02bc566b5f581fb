"""Where read models live: the same database as the events (SQLite file or PostgreSQL).

SQL is written once with ``?`` placeholders; the PostgreSQL store translates them. Both
stores give rows that can be indexed by column name.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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
        self._fresh().executemany(_pg_sql(sql), rows)

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
