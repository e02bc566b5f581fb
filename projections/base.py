"""What a read model is: tables, and a function applying a batch of events to them."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from projections.store import Cursor, ViewStore

#: (notification id, domain event)
Item = tuple[int, Any]
#: (notification id, stored notification as recorded, domain event) — for ``raw`` read models
RawItem = tuple[int, Any, Any]


class Projection(ABC):
    #: the tracking name (also the CLI name)
    name: str
    #: tables this read model owns (dropped and recreated by a rebuild)
    tables: tuple[str, ...]
    #: tables this read model owns that a rebuild must keep (e.g. the audit chain)
    kept_tables: tuple[str, ...] = ()
    #: when True the runner calls ``apply_raw`` with the stored events too
    raw: bool = False

    @abstractmethod
    def ddl(self, dialect: str) -> list[str]:
        """CREATE TABLE / INDEX statements (idempotent: IF NOT EXISTS)."""

    @abstractmethod
    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        """Apply a batch of events (in log order) inside the caller's transaction."""

    def apply_raw(self, cur: Cursor, items: Sequence[RawItem]) -> None:
        """Like ``apply``, with each event's stored form (called when ``raw`` is True)."""
        self.apply(cur, [(position, event) for position, _, event in items])

    def fingerprint(self, dialect: str) -> str:
        """Changes when the tables' definition changes (the runner then rebuilds them)."""
        return hashlib.sha256("\n".join(self.ddl(dialect)).encode()).hexdigest()[:16]


def bigint(dialect: str) -> str:
    return "BIGINT" if dialect == "postgres" else "INTEGER"


def dump(store: ViewStore, projection: Projection) -> dict[str, list[dict[str, Any]]]:
    """Every row of a read model, in a stable order (to compare a rebuild with the original)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    with store.read() as cur:
        for table in projection.tables:
            rows = [dict(r) for r in cur.execute(f"SELECT * FROM {table}").fetchall()]
            tables[table] = sorted(rows, key=lambda r: [str(v) for v in r.values()])
    return tables
