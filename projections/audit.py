"""Tamper evidence: a hash chain over the event log, seals, and the walk that checks them.

Each event's link is ``sha256(previous link || originator id, version, topic, state)``, so it
covers the event's stored content and everything before it. The chain is kept by the
projection runner in ``audit_chain`` (one row per event, in log order) as events are
recorded; every ``seal_interval`` events a seal (the link at that point) goes into
``audit_seal``. Neither table is dropped by a rebuild: recomputing them from an altered log
would erase the evidence. A rebuild only appends what is not chained yet.

The notification id is *not* hashed (it is stored beside the link), so a log exported and
imported elsewhere has the same chain and the same seals: a seal kept outside the store
checks a restored copy too.

``verify`` recomputes the chain from the log and compares it, link by link, with the stored
chain and with every seal; it names the first event that was altered, deleted, inserted or
moved. Someone able to rewrite both the log and these tables could recompute a consistent
chain; seals exported and kept elsewhere (``safeloop seal export``) are what catches that.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from projections.base import Projection, RawItem, bigint
from projections.store import Cursor, ViewStore
from projections.timefmt import iso

GENESIS = "0" * 64
SEAL_FORMAT = "safeloop-seal/1"


def canonical_id(originator_id: Any) -> str:
    """The originator id as text, the same on both stores (SQLite keeps UUIDs as hex)."""
    if isinstance(originator_id, UUID):
        return str(originator_id)
    try:
        return str(UUID(str(originator_id)))
    except ValueError:
        return str(originator_id)


def link(previous: str, originator_id: str, version: int, topic: str, state: bytes) -> str:
    """The chain link of one event: its content and its predecessor's link."""
    h = hashlib.sha256()
    h.update(bytes.fromhex(previous))
    head = f"{originator_id}\x1f{version}\x1f{topic}\x1f{len(state)}\x1f".encode()
    h.update(head)
    h.update(state)
    return h.hexdigest()


def _bytes(state: Any) -> bytes:
    if isinstance(state, str):  # a hand edit can turn SQLite's BLOB into TEXT
        return state.encode("utf-8")
    return bytes(state) if not isinstance(state, bytes) else state


class AuditChain(Projection):
    """Appends each recorded event's link to the chain (and seals at intervals)."""

    name = "audit_chain"
    #: nothing here is dropped by a rebuild (see the module's doc)
    tables = ()
    kept_tables = ("audit_chain", "audit_seal")
    raw = True

    def __init__(self, seal_interval: int = 1000) -> None:
        self.seal_interval = seal_interval

    def ddl(self, dialect: str) -> list[str]:
        big = bigint(dialect)
        return [
            "CREATE TABLE IF NOT EXISTS audit_chain ("
            f" seq {big} PRIMARY KEY, position {big} NOT NULL,"
            " originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL,"
            " link TEXT NOT NULL)",
            "CREATE UNIQUE INDEX IF NOT EXISTS audit_chain_event"
            " ON audit_chain (originator_id, originator_version)",
            "CREATE TABLE IF NOT EXISTS audit_seal ("
            f" seq {big} PRIMARY KEY, position {big} NOT NULL,"
            " originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL,"
            " link TEXT NOT NULL, recorded_at TEXT, sealed_by TEXT NOT NULL)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Any]) -> None:
        raise NotImplementedError("the audit chain reads stored events (apply_raw)")

    def apply_raw(self, cur: Cursor, items: Sequence[RawItem]) -> None:
        last = cur.execute(
            "SELECT seq, position, link FROM audit_chain ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, position, previous = (
            (int(last["seq"]), int(last["position"]), last["link"]) if last else (0, 0, GENESIS)
        )
        rows: list[tuple[Any, ...]] = []
        seals: list[tuple[Any, ...]] = []
        for notification_id, stored, event in items:
            if notification_id <= position:
                continue  # chained already (a rebuild replays from the start)
            seq += 1
            oid = canonical_id(stored.originator_id)
            previous = link(
                previous, oid, stored.originator_version, stored.topic, _bytes(stored.state)
            )
            rows.append((seq, notification_id, oid, stored.originator_version, previous))
            if self.seal_interval and seq % self.seal_interval == 0:
                recorded = iso(getattr(event, "timestamp", None))
                seals.append(
                    (seq, notification_id, oid, stored.originator_version, previous, recorded)
                )
        if rows:
            cur.executemany(
                "INSERT INTO audit_chain (seq, position, originator_id, originator_version, link)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        if seals:
            cur.executemany(
                "INSERT INTO audit_seal (seq, position, originator_id, originator_version, link,"
                " recorded_at, sealed_by) VALUES (?, ?, ?, ?, ?, ?, 'interval')",
                seals,
            )


# -- seals ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seal:
    """The chain's link after ``seq`` events: keep it somewhere the store's admins cannot write."""

    seq: int
    position: int
    originator_id: str
    originator_version: int
    link: str
    recorded_at: str | None = None
    format: str = SEAL_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Seal:
        data = json.loads(text)
        if data.get("format") != SEAL_FORMAT:
            raise ValueError(f"not a safeloop seal (format {data.get('format')!r})")
        return cls(
            seq=int(data["seq"]),
            position=int(data["position"]),
            originator_id=str(data["originator_id"]),
            originator_version=int(data["originator_version"]),
            link=str(data["link"]),
            recorded_at=data.get("recorded_at"),
        )


def latest_seal(store: ViewStore) -> Seal | None:
    with store.read() as cur:
        row = cur.execute("SELECT * FROM audit_seal ORDER BY seq DESC LIMIT 1").fetchone()
    return _seal(row) if row else None


def seal_head(store: ViewStore, recorded_at: str | None = None) -> Seal | None:
    """Seal the chain's head now (``safeloop seal export``); None while the log is empty."""
    with store.write() as cur:
        row = cur.execute("SELECT * FROM audit_chain ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return None
        cur.execute(
            "INSERT INTO audit_seal (seq, position, originator_id, originator_version, link,"
            " recorded_at, sealed_by) VALUES (?, ?, ?, ?, ?, ?, 'export')"
            " ON CONFLICT (seq) DO NOTHING",
            (
                row["seq"],
                row["position"],
                row["originator_id"],
                row["originator_version"],
                row["link"],
                recorded_at,
            ),
        )
        sealed = cur.execute("SELECT * FROM audit_seal WHERE seq = ?", (row["seq"],)).fetchone()
    assert sealed is not None
    return _seal(sealed)


def _seal(row: Any) -> Seal:
    return Seal(
        seq=int(row["seq"]),
        position=int(row["position"]),
        originator_id=row["originator_id"],
        originator_version=int(row["originator_version"]),
        link=row["link"],
        recorded_at=row["recorded_at"],
    )


# -- verification --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # altered | deleted | inserted | reordered | seal
    position: int
    originator_id: str
    originator_version: int
    detail: str

    def __str__(self) -> str:
        return (
            f"{self.kind}: notification {self.position}, aggregate {self.originator_id}"
            f" version {self.originator_version} — {self.detail}"
        )


@dataclass
class Report:
    events: int = 0
    chained: int = 0
    seals_checked: int = 0
    unchained: int = 0
    head: str = GENESIS
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class _Stored:
    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


def log_rows(store: ViewStore, table: str, batch: int) -> Iterator[_Stored]:
    key = "notification_id" if store.dialect == "postgres" else "rowid"
    after = 0
    while True:
        with store.read() as cur:
            rows = cur.execute(
                f"SELECT {key} AS position, originator_id, originator_version, topic, state"
                f" FROM {table} WHERE {key} > ? ORDER BY {key} LIMIT ?",
                (after, batch),
            ).fetchall()
        for r in rows:
            yield _Stored(
                int(r["position"]),
                canonical_id(r["originator_id"]),
                int(r["originator_version"]),
                r["topic"],
                _bytes(r["state"]),
            )
        if len(rows) < batch:
            return
        after = int(rows[-1]["position"])


def _chain_rows(store: ViewStore, batch: int) -> Iterator[Any]:
    after = 0
    while True:
        with store.read() as cur:
            rows = cur.execute(
                "SELECT seq, position, originator_id, originator_version, link FROM audit_chain"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, batch),
            ).fetchall()
        yield from rows
        if len(rows) < batch:
            return
        after = int(rows[-1]["seq"])


def verify(
    store: ViewStore,
    events_table: str,
    *,
    seals: Sequence[Seal] = (),
    batch: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Walk the log and the chain together; stop at the first discrepancy."""
    report = Report()
    with store.read() as cur:
        stored_seals = [_seal(r) for r in cur.execute("SELECT * FROM audit_seal").fetchall()]
    by_seq: dict[int, list[Seal]] = {}
    for seal in [*stored_seals, *seals]:
        by_seq.setdefault(seal.seq, []).append(seal)
    log = log_rows(store, events_table, batch)
    chain = _chain_rows(store, batch)
    previous = GENESIS
    seq = 0
    for expected in chain:
        seq += 1
        found = next(log, None)
        if found is None:
            report.problem = _deleted(expected, "the log ends before this chained event")
            return report
        report.events += 1
        actual = link(
            previous, found.originator_id, found.originator_version, found.topic, found.state
        )
        if actual != expected["link"]:
            report.problem = _explain(store, events_table, expected, found)
            return report
        previous = actual
        report.chained = seq
        for seal in by_seq.get(seq, ()):
            report.seals_checked += 1
            if seal.link != actual:
                report.problem = Problem(
                    "seal",
                    found.position,
                    found.originator_id,
                    found.originator_version,
                    f"the seal after {seq} events ({seal.link[:16]}…) does not match the"
                    f" chain recomputed from the log ({actual[:16]}…): events up to here were"
                    " rewritten together with the chain",
                )
                return report
        if progress is not None and seq % batch == 0:
            progress(batch)
    for seal in (s for sq, ss in by_seq.items() if sq > seq for s in ss):
        report.problem = Problem(
            "seal",
            seal.position,
            seal.originator_id,
            seal.originator_version,
            f"a seal covers {seal.seq} events but the chain holds only {seq}:"
            " chained events were removed",
        )
        return report
    for _ in log:
        report.events += 1
        report.unchained += 1
    report.head = previous
    return report


def _deleted(expected: Any, why: str) -> Problem:
    return Problem(
        "deleted",
        int(expected["position"]),
        expected["originator_id"],
        int(expected["originator_version"]),
        why,
    )


def _explain(store: ViewStore, events_table: str, expected: Any, found: _Stored) -> Problem:
    """Name the first bad event: altered in place, deleted, inserted or moved."""
    exp_id, exp_version = expected["originator_id"], int(expected["originator_version"])
    if (found.originator_id, found.originator_version) == (exp_id, exp_version):
        return Problem(
            "altered",
            found.position,
            found.originator_id,
            found.originator_version,
            "its stored content differs from what was recorded",
        )
    with store.read() as cur:
        chained = cur.execute(
            "SELECT seq, position FROM audit_chain WHERE originator_id = ?"
            " AND originator_version = ?",
            (found.originator_id, found.originator_version),
        ).fetchone()
    if chained is None:
        return Problem(
            "inserted",
            found.position,
            found.originator_id,
            found.originator_version,
            f"this event was never chained; expected aggregate {exp_id} version {exp_version}"
            f" (notification {expected['position']}) here",
        )
    moved_to = _log_position(store, events_table, exp_id, exp_version)
    if moved_to is None:
        return _deleted(
            expected,
            f"missing from the log (notification {found.position}, aggregate"
            f" {found.originator_id} version {found.originator_version}, is where it was)",
        )
    return Problem(
        "reordered",
        int(expected["position"]),
        exp_id,
        exp_version,
        f"expected at notification {expected['position']} but found at {moved_to};"
        f" notification {found.position} holds aggregate {found.originator_id} version"
        f" {found.originator_version}, recorded as event {chained['seq']} (notification"
        f" {chained['position']})",
    )


def _log_position(store: ViewStore, table: str, originator_id: str, version: int) -> int | None:
    key = "notification_id" if store.dialect == "postgres" else "rowid"
    value: str = originator_id
    if store.dialect == "sqlite":
        with contextlib.suppress(ValueError):
            value = UUID(originator_id).hex
    with store.read() as cur:
        row = cur.execute(
            f"SELECT {key} AS position FROM {table} WHERE originator_id = ?"
            " AND originator_version = ?",
            (value, version),
        ).fetchone()
    return int(row["position"]) if row else None
