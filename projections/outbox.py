"""Delivery state of the outbox: claim, record the outcome, report, retry.

The messages themselves are rows of the ``notifications`` read model (``outbox``); their
delivery state is in ``outbox_delivery``, which no rebuild drops. A sender claims due rows
(``pending``, or ``sending`` rows whose claim has lapsed — a sender that died mid-batch)
by moving them to ``sending`` with a new ``next_attempt_at`` = the end of the claim; on
PostgreSQL with ``SKIP LOCKED``, so senders side by side never claim the same row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from projections.notifications import DELIVERY_TABLE
from projections.store import ViewStore
from projections.timefmt import iso

STATES = ("pending", "sending", "sent", "dead", "skipped")
T = DELIVERY_TABLE


@dataclass(frozen=True)
class Message:
    dedup_key: str
    channel: str
    kind: str
    recipient: str
    address: str | None
    mentions: list[str]
    language: str
    subject: str
    body: str
    link: str | None
    hazard_id: str | None
    created_at: str
    attempts: int
    #: when it fell due (its creation, a retry's time, or a lapsed claim's end)
    due_at: str


def claim(
    store: ViewStore, *, now: datetime, owner: str, lease: timedelta, limit: int
) -> tuple[list[Message], list[str]]:
    """Claim up to ``limit`` due deliveries; returns (messages, keys without a message yet)."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if store.dialect == "postgres" else ""
    with store.read() as cur:  # most passes find nothing: do not take the write lock then
        if not cur.execute(
            f"SELECT 1 FROM {T} WHERE state IN ('pending', 'sending') AND next_attempt_at <= ?"
            " LIMIT 1",
            (iso(now),),
        ).fetchone():
            return [], []
    with store.write() as cur:
        rows = cur.execute(
            f"SELECT dedup_key, attempts, next_attempt_at FROM {T}"
            " WHERE state IN ('pending', 'sending') AND next_attempt_at <= ?"
            f" ORDER BY next_attempt_at, dedup_key LIMIT ?{skip_locked}",
            (iso(now), limit),
        ).fetchall()
        if not rows:
            return [], []
        keys = [r["dedup_key"] for r in rows]
        attempts = {r["dedup_key"]: int(r["attempts"]) for r in rows}
        due = {r["dedup_key"]: r["next_attempt_at"] for r in rows}
        cur.executemany(
            f"UPDATE {T} SET state = 'sending', claimed_by = ?, next_attempt_at = ?,"
            " updated_at = ? WHERE dedup_key = ?",
            [(owner, iso(now + lease), iso(now), k) for k in keys],
        )
        marks = ",".join("?" * len(keys))
        found = cur.execute(
            "SELECT dedup_key, channel, kind, recipient, address, mentions, language, subject,"
            f" body, link, hazard_id, created_at FROM outbox WHERE dedup_key IN ({marks})",
            keys,
        ).fetchall()
    by_key = {r["dedup_key"]: r for r in found}
    messages = [
        Message(
            dedup_key=k,
            channel=by_key[k]["channel"],
            kind=by_key[k]["kind"],
            recipient=by_key[k]["recipient"],
            address=by_key[k]["address"],
            mentions=json.loads(by_key[k]["mentions"]),
            language=by_key[k]["language"],
            subject=by_key[k]["subject"],
            body=by_key[k]["body"],
            link=by_key[k]["link"],
            hazard_id=by_key[k]["hazard_id"],
            created_at=by_key[k]["created_at"],
            attempts=attempts[k],
            due_at=due[k],
        )
        for k in keys
        if k in by_key
    ]
    return messages, [k for k in keys if k not in by_key]


def release(store: ViewStore, keys: Sequence[str], *, owner: str, retry_at: datetime) -> None:
    """Give claimed rows back (e.g. their message is not in the read model yet)."""
    with store.write() as cur:
        cur.executemany(
            f"UPDATE {T} SET state = 'pending', claimed_by = NULL, next_attempt_at = ?"
            " WHERE dedup_key = ? AND claimed_by = ? AND state = 'sending'",
            [(iso(retry_at), k, owner) for k in keys],
        )


def finish(
    store: ViewStore,
    key: str,
    *,
    owner: str,
    state: str,
    attempts: int,
    now: datetime,
    next_attempt_at: datetime | None = None,
    error: str | None = None,
) -> bool:
    """Record a claimed delivery's outcome (only while this sender still holds the claim)."""
    assert state in ("sent", "dead", "skipped", "pending")
    with store.write() as cur:
        cur.execute(
            f"UPDATE {T} SET state = ?, attempts = ?, next_attempt_at = ?, claimed_by = NULL,"
            " sent_at = ?, last_error = ?, updated_at = ?"
            " WHERE dedup_key = ? AND claimed_by = ? AND state = 'sending'",
            (
                state,
                attempts,
                iso(next_attempt_at or now),
                iso(now) if state == "sent" else None,
                error[:1000] if error else None,
                iso(now),
                key,
                owner,
            ),
        )
        return int(cur.rowcount) == 1


# -- operations --------------------------------------------------------------------------------


def counts(store: ViewStore) -> dict[str, dict[str, int]]:
    """Deliveries by channel and state."""
    with store.read() as cur:
        rows = cur.execute(
            f"SELECT channel, state, COUNT(*) AS n FROM {T} GROUP BY channel, state"
        ).fetchall()
    result: dict[str, dict[str, int]] = {}
    for row in rows:
        result.setdefault(row["channel"], {s: 0 for s in STATES})[row["state"]] = int(row["n"])
    return dict(sorted(result.items()))


def deliveries(
    store: ViewStore,
    *,
    state: str | None = None,
    channel: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Deliveries (newest first) with their message's recipient and subject."""
    sql = (
        f"SELECT d.dedup_key, d.channel, d.state, d.attempts, d.next_attempt_at,"
        " d.created_at, d.sent_at, d.last_error, d.updated_at, o.recipient, o.address,"
        " o.kind, o.subject, o.hazard_id"
        f" FROM {T} d LEFT JOIN outbox o ON o.dedup_key = d.dedup_key"
    )
    where: list[str] = []
    params: list[Any] = []
    if state is not None:
        where.append("d.state = ?")
        params.append(state)
    if channel is not None:
        where.append("d.channel = ?")
        params.append(channel)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY d.created_at DESC, d.dedup_key LIMIT ?"
    params.append(limit)
    with store.read() as cur:
        return [dict(r) for r in cur.execute(sql, params).fetchall()]


def retry(store: ViewStore, *, now: datetime, keys: Sequence[str] | None = None) -> int:
    """Put dead-lettered deliveries (all, or the given keys) back in the queue."""
    with store.write() as cur:
        if keys is None:
            cur.execute(
                f"UPDATE {T} SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                " last_error = NULL, updated_at = ? WHERE state = 'dead'",
                (iso(now), iso(now)),
            )
            return int(cur.rowcount)
        total = 0
        for key in keys:
            cur.execute(
                f"UPDATE {T} SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                " last_error = NULL, updated_at = ? WHERE state = 'dead' AND dedup_key = ?",
                (iso(now), iso(now), key),
            )
            total += int(cur.rowcount)
        return total
