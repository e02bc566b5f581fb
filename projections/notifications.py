"""``notifications``: every person's inbox, and the outbox of messages to deliver.

From the log alone (so a rebuild gives the same rows): each notice, copy, reminder,
escalation, case flag and digest becomes one inbox row per recipient (the in-app channel)
and one outbox row per external channel the recipient takes — e-mail and the generic JSON
webhook per person, and for the group robots (WeCom, DingTalk, Feishu) one message per event
and robot, mentioning its recipients. The outbox row's key is ``event|recipient|channel``
(the recipient of a robot message is ``group``).

The read model keeps its own copy of the people (language, e-mail, phone, channels) and
of the items' facts, taken from the log in order, so each message says what was true when
it was sent. Delivery state lives in ``outbox_delivery``, which is created here but is NOT
one of this read model's tables: a rebuild never drops it, and re-adds only rows it lacks,
so a message already sent is never sent again under its key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from domain.digest import Digest
from domain.hazard import Hazard
from domain.ids import NAMESPACE
from domain.inbox import InboxReceipt
from domain.organisation import Organisation
from domain.training import Certification
from projections.base import Item, Projection, bigint
from projections.messages import Message, render
from projections.store import Cursor, ViewStore, select_in
from projections.timefmt import iso, parse

#: channels addressed to one person, and group robots (one message per event)
PERSON_CHANNELS = ("email", "webhook")
GROUP_CHANNELS = ("wecom", "dingtalk", "feishu")
CHANNELS = ("inapp", *PERSON_CHANNELS, *GROUP_CHANNELS)
GROUP = "group"
DELIVERY_TABLE = "outbox_delivery"

PERSON_COLUMNS = ("id", "name", "role", "department", "email", "phone", "language", "channels")
ITEM_COLUMNS = (
    "hazard_id",
    "number",
    "location",
    "description",
    "department",
    "responsible_person",
    "unit_head",
    "deadline",
    "level",
)
INBOX_COLUMNS = (
    "id",
    "position",
    "person",
    "kind",
    "event_key",
    "hazard_id",
    "number",
    "title",
    "body",
    "link",
    "created_at",
)
OUTBOX_COLUMNS = (
    "dedup_key",
    "position",
    "event_key",
    "kind",
    "channel",
    "recipient",
    "address",
    "mentions",
    "language",
    "subject",
    "body",
    "link",
    "hazard_id",
    "created_at",
)


def inbox_item_id(event_key: str, person: str) -> UUID:
    return uuid5(NAMESPACE, f"inbox:{event_key}:{person}")


def dedup_key(event_key: str, recipient: str, channel: str) -> str:
    return f"{event_key}|{recipient}|{channel}"


@dataclass
class _Recipient:
    person: str
    kind: str
    template: str


class Notifications(Projection):
    name = "notifications"
    tables = ("inbox", "outbox", "notify_people", "notify_departments", "notify_items")

    def __init__(
        self,
        *,
        base_url: str = "http://127.0.0.1:8000",
        timezone: str = "Asia/Shanghai",
        channels: Iterable[str] = (),
        default_channels: Iterable[str] = ("email",),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.zone = ZoneInfo(timezone)
        #: the external channels configured (others make no outbox rows)
        self.enabled = frozenset(c for c in channels if c in CHANNELS and c != "inapp")
        #: channels for people whose record names none
        self.default_channels = tuple(default_channels)

    def ddl(self, dialect: str) -> list[str]:
        big = bigint(dialect)
        return [
            "CREATE TABLE IF NOT EXISTS notify_people ("
            " id TEXT PRIMARY KEY, name TEXT, role TEXT, department TEXT, email TEXT,"
            " phone TEXT, language TEXT, channels TEXT)",
            "CREATE TABLE IF NOT EXISTS notify_departments ("
            " code TEXT PRIMARY KEY, name_zh TEXT, name_en TEXT)",
            "CREATE TABLE IF NOT EXISTS notify_items ("
            " hazard_id TEXT PRIMARY KEY, number TEXT, location TEXT, description TEXT,"
            " department TEXT, responsible_person TEXT, unit_head TEXT, deadline TEXT,"
            " level INTEGER NOT NULL DEFAULT 0)",
            "CREATE TABLE IF NOT EXISTS inbox ("
            f" id TEXT PRIMARY KEY, position {big} NOT NULL, person TEXT NOT NULL,"
            " kind TEXT NOT NULL, event_key TEXT NOT NULL, hazard_id TEXT, number TEXT,"
            " title TEXT NOT NULL, body TEXT NOT NULL, link TEXT, created_at TEXT NOT NULL,"
            " read_at TEXT, acknowledged_at TEXT)",
            "CREATE INDEX IF NOT EXISTS inbox_person ON inbox (person, position)",
            "CREATE TABLE IF NOT EXISTS outbox ("
            f" dedup_key TEXT PRIMARY KEY, position {big} NOT NULL, event_key TEXT NOT NULL,"
            " kind TEXT NOT NULL, channel TEXT NOT NULL, recipient TEXT NOT NULL,"
            " address TEXT, mentions TEXT NOT NULL, language TEXT NOT NULL,"
            " subject TEXT NOT NULL, body TEXT NOT NULL, link TEXT, hazard_id TEXT,"
            " created_at TEXT NOT NULL)",
            # Not one of ``tables``: kept across rebuilds (see the module's docstring).
            f"CREATE TABLE IF NOT EXISTS {DELIVERY_TABLE} ("
            " dedup_key TEXT PRIMARY KEY, channel TEXT NOT NULL, state TEXT NOT NULL,"
            " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL,"
            " created_at TEXT NOT NULL, claimed_by TEXT, sent_at TEXT, last_error TEXT,"
            " updated_at TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {DELIVERY_TABLE}_due"
            f" ON {DELIVERY_TABLE} (state, next_attempt_at)",
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        batch = _Batch(self, cur)
        hazards = {str(e.originator_id) for _, e in items if isinstance(e, Hazard.Event)}
        batch.prefetch(sorted(hazards))
        for pos, e in items:
            if isinstance(e, Organisation.Event):
                batch.org_event(e)
            elif isinstance(e, Hazard.Event):
                batch.hazard_event(pos, e)
            elif isinstance(e, Digest.Issued):
                batch.digest(pos, e)
            elif isinstance(e, InboxReceipt.Read | InboxReceipt.Acknowledged):
                batch.receipt(e)
            elif isinstance(e, Certification.ExpiryReminded):
                batch.certificate_reminder(pos, e)
        batch.flush()

    def channels_for(self, person: dict[str, Any]) -> list[str]:
        chosen = person.get("channels")
        names = json.loads(chosen) if chosen else self.default_channels
        return [c for c in dict.fromkeys(names) if c in self.enabled]


class _Batch:
    """One batch's work: caches of people, departments and items, and the rows to write."""

    def __init__(self, model: Notifications, cur: Cursor) -> None:
        self.m = model
        self.cur = cur
        self._people: dict[str, dict[str, Any] | None] | None = None
        self._departments: dict[str, dict[str, Any] | None] | None = None
        self.items: dict[str, dict[str, Any]] = {}
        self.dirty_people: set[str] = set()
        self.dirty_departments: set[str] = set()
        self.dirty_items: set[str] = set()
        self.inbox: list[tuple[Any, ...]] = []
        self.outbox: list[tuple[Any, ...]] = []
        self.receipts: list[tuple[str | None, str | None, str]] = []

    # -- caches ------------------------------------------------------------------------------

    @property
    def people(self) -> dict[str, dict[str, Any] | None]:
        if self._people is None:
            rows = self.cur.execute("SELECT * FROM notify_people").fetchall()
            self._people = {r["id"]: dict(r) for r in rows}
        return self._people

    @property
    def departments(self) -> dict[str, dict[str, Any] | None]:
        if self._departments is None:
            rows = self.cur.execute("SELECT * FROM notify_departments").fetchall()
            self._departments = {r["code"]: dict(r) for r in rows}
        return self._departments

    def prefetch(self, hazard_ids: Sequence[str]) -> None:
        for row in select_in(self.cur, "SELECT * FROM notify_items WHERE hazard_id IN", hazard_ids):
            self.items[row["hazard_id"]] = dict(row)
        for hid in hazard_ids:
            self.items.setdefault(hid, {"hazard_id": hid, "level": 0})

    def item(self, hazard_id: str) -> dict[str, Any]:
        if hazard_id not in self.items:
            row = self.cur.execute(
                "SELECT * FROM notify_items WHERE hazard_id = ?", (hazard_id,)
            ).fetchone()
            self.items[hazard_id] = dict(row) if row else {"hazard_id": hazard_id, "level": 0}
        return self.items[hazard_id]

    # -- events ------------------------------------------------------------------------------

    def org_event(self, e: Any) -> None:
        if isinstance(e, Organisation.PersonAdded | Organisation.PersonChanged):
            pid = e.record["id"] if isinstance(e, Organisation.PersonAdded) else e.person_id
            person = dict(self.people.get(pid) or {"id": pid})
            changes = e.record if isinstance(e, Organisation.PersonAdded) else e.changes
            for key, value in changes.items():
                if key not in PERSON_COLUMNS:
                    continue
                if key == "channels":
                    value = json.dumps(value) if value is not None else None
                person[key] = value
            self.people[pid] = person
            self.dirty_people.add(pid)
        elif isinstance(e, Organisation.PersonRemoved):
            self.people[e.person_id] = None
            self.dirty_people.add(e.person_id)
        elif isinstance(e, Organisation.DepartmentAdded | Organisation.DepartmentChanged):
            code = e.record["code"] if isinstance(e, Organisation.DepartmentAdded) else e.code
            dept = dict(self.departments.get(code) or {"code": code})
            changes = e.record if isinstance(e, Organisation.DepartmentAdded) else e.changes
            for key in ("name_zh", "name_en"):
                if key in changes:
                    dept[key] = changes[key]
            self.departments[code] = dept
            self.dirty_departments.add(code)
        elif isinstance(e, Organisation.DepartmentRemoved):
            self.departments[e.code] = None
            self.dirty_departments.add(e.code)

    def hazard_event(self, pos: int, e: Any) -> None:
        hid = str(e.originator_id)
        item = self.item(hid)
        self.dirty_items.add(hid)
        if isinstance(e, Hazard.Reported):
            item.update(
                number=e.number,
                location=e.location,
                description=e.description,
                department=e.department,
            )
            return
        if isinstance(e, Hazard.Screened):
            item["department"] = e.department
            return
        recipients: list[_Recipient] = []
        extra: dict[str, Any] = {}
        if isinstance(e, Hazard.NoticeIssued):
            item.update(
                responsible_person=e.responsible_person,
                unit_head=e.unit_head,
                deadline=iso(e.deadline),
            )
            recipients = [
                _Recipient(e.responsible_person, "notice", "notice"),
                *([_Recipient(e.unit_head, "notice", "notice")] if e.unit_head else []),
                *(_Recipient(p, "copy", "copy") for p in e.copies),
            ]
        elif isinstance(e, Hazard.ExtensionGranted):
            item["deadline"] = iso(e.deadline)
        elif isinstance(e, Hazard.RecheckFailed) and e.deadline is not None:
            item["deadline"] = iso(e.deadline)
            recipients = self._owners(item, "notice", "renotice_recheck")
        elif isinstance(e, Hazard.ReminderIssued):
            recipients = [_Recipient(p, "reminder", "reminder") for p in e.recipients]
            extra = {"offset_hours": e.offset_hours, "deadline": e.deadline}
        elif isinstance(e, Hazard.ReNoticed):
            item.update(deadline=iso(e.deadline), level=e.level)
            recipients = [
                *self._owners(item, "escalation", "escalation"),
                *(_Recipient(p, "escalation", "escalation") for p in e.copies),
            ]
            extra = {"period": e.period}
        elif isinstance(e, Hazard.TimerMissed):
            recipients = [
                *(
                    [_Recipient(item["unit_head"], "escalation", "urgent_timer")]
                    if item.get("unit_head")
                    else []
                ),
                *self._department_head(item),
                *(_Recipient(p, "escalation", "urgent_timer") for p in e.copies),
            ]
            extra = {"timer": e.name, "due": e.due}
        elif isinstance(e, Hazard.FlaggedForCase):
            office = sorted(
                pid for pid, p in self.people.items() if p and p.get("role") == "info_office"
            )
            recipients = [_Recipient(p, "case_flag", "case_flag") for p in office]
            extra = {"level": e.level}
        if not recipients:
            return
        department = self.departments.get(item.get("department") or "") or {}
        facts = {
            "number": item.get("number"),
            "location": item.get("location"),
            "description": item.get("description"),
            "department_name": department.get("name_zh"),
            "department_name_en": department.get("name_en") or department.get("name_zh"),
            "deadline": parse(item.get("deadline")),
            "level": item.get("level") or 0,
            "link": f"{self.m.base_url}/items/{hid}",
            **extra,
        }
        self.notify(pos, e, recipients, facts, hazard_id=hid, number=item.get("number"))

    def _department_head(self, item: dict[str, Any]) -> list[_Recipient]:
        """The unit head of the item's department (an urgent item may have no notice yet),
        and the information office (the dispatch room) when it has no department."""
        head = next(
            (
                pid
                for pid, p in sorted(self.people.items())
                if p
                and p.get("role") == "unit_head"
                and p.get("department") == item.get("department")
            ),
            None,
        )
        if head is not None:
            return [_Recipient(head, "escalation", "urgent_timer")]
        office = sorted(
            pid for pid, p in self.people.items() if p and p.get("role") == "info_office"
        )
        return [_Recipient(p, "escalation", "urgent_timer") for p in office]

    def certificate_reminder(self, pos: int, e: Any) -> None:
        holder = self.people.get(e.person) or {}
        department = holder.get("department")
        facts = {
            "holder": f"{holder.get('name') or e.person}（{e.person}）",
            "certificate_type": e.certificate_type,
            "certificate_number": e.number,
            "deadline": e.expires_at,
            "offset_days": e.days_ahead,
            "link": f"{self.m.base_url}/departments/{department}/certificates"
            if department
            else None,
        }
        recipients = [_Recipient(p, "reminder", "certificate_reminder") for p in e.recipients]
        self.notify(pos, e, recipients, facts, hazard_id=None, number=None)

    def _owners(self, item: dict[str, Any], kind: str, template: str) -> list[_Recipient]:
        owners = [item.get("responsible_person"), item.get("unit_head")]
        return [_Recipient(p, kind, template) for p in owners if p]

    def digest(self, pos: int, e: Any) -> None:
        summary = e.summary or {}
        facts = {
            "day": e.day,
            "new": summary.get("new", 0),
            "closed": summary.get("closed", 0),
            "overdue": summary.get("overdue", 0),
            "link": f"{self.m.base_url}/digest?date={e.day}",
        }
        recipients = [_Recipient(p, "digest", "digest") for p in e.recipients]
        self.notify(pos, e, recipients, facts, hazard_id=None, number=None)

    def receipt(self, e: Any) -> None:
        at = iso(e.timestamp)
        read = at
        acknowledged = at if isinstance(e, InboxReceipt.Acknowledged) else None
        self.receipts.append((read, acknowledged, str(e.item_id)))

    # -- fan-out -----------------------------------------------------------------------------

    def notify(
        self,
        pos: int,
        e: Any,
        recipients: Sequence[_Recipient],
        facts: dict[str, Any],
        *,
        hazard_id: str | None,
        number: str | None,
    ) -> None:
        event_key = f"{e.originator_id}:{e.originator_version}"
        created = iso(e.timestamp)
        zone = self.m.zone
        groups: dict[str, list[dict[str, Any]]] = {}
        messages: dict[tuple[str, str], Message] = {}  # one rendering per template and language
        seen: set[str] = set()
        first: _Recipient | None = None
        for r in recipients:
            person = self.people.get(r.person)
            if person is None or r.person in seen:
                continue
            seen.add(r.person)
            first = first or r
            language = person.get("language") or "zh"
            message = messages.get((r.template, language))
            if message is None:
                message = messages[r.template, language] = render(r.template, language, facts, zone)
            self.inbox.append(
                (
                    str(inbox_item_id(event_key, r.person)),
                    pos,
                    r.person,
                    r.kind,
                    event_key,
                    hazard_id,
                    number,
                    message.title,
                    message.body,
                    facts.get("link"),
                    created,
                )
            )
            for channel in self.m.channels_for(person):
                if channel in GROUP_CHANNELS:
                    groups.setdefault(channel, []).append(person)
                    continue
                address = person.get("email") if channel == "email" else None
                if channel == "email" and not address:
                    continue
                self.outbox.append(
                    (
                        dedup_key(event_key, r.person, channel),
                        pos,
                        event_key,
                        r.kind,
                        channel,
                        r.person,
                        address,
                        json.dumps([person.get("phone")] if person.get("phone") else []),
                        language,
                        message.title,
                        message.body,
                        facts.get("link"),
                        hazard_id,
                        created,
                    )
                )
        if first is None:
            return
        for channel, people in groups.items():
            message = render(first.template, "zh", facts, zone)
            names = "、".join(p.get("name") or p["id"] for p in people)
            self.outbox.append(
                (
                    dedup_key(event_key, GROUP, channel),
                    pos,
                    event_key,
                    first.kind,
                    channel,
                    GROUP,
                    None,
                    json.dumps([p["phone"] for p in people if p.get("phone")]),
                    "zh",
                    message.title,
                    f"{message.body}\n通知：{names}",
                    facts.get("link"),
                    hazard_id,
                    created,
                )
            )

    # -- writing -----------------------------------------------------------------------------

    def flush(self) -> None:
        cur = self.cur
        if self.dirty_people:
            self._write("notify_people", "id", PERSON_COLUMNS, self.dirty_people, self.people)
        if self.dirty_departments:
            self._write(
                "notify_departments",
                "code",
                ("code", "name_zh", "name_en"),
                self.dirty_departments,
                self.departments,
            )
        if self.dirty_items:
            rows = [
                tuple(self.items[h].get(c, 0 if c == "level" else None) for c in ITEM_COLUMNS)
                for h in sorted(self.dirty_items)
            ]
            _upsert(cur, "notify_items", "hazard_id", ITEM_COLUMNS, rows)
        if self.inbox:
            cur.executemany(_insert("inbox", INBOX_COLUMNS), self.inbox)
        if self.receipts:
            cur.executemany(
                "UPDATE inbox SET read_at = COALESCE(read_at, ?),"
                " acknowledged_at = COALESCE(acknowledged_at, ?) WHERE id = ?",
                self.receipts,
            )
        if self.outbox:
            cur.executemany(_insert("outbox", OUTBOX_COLUMNS), self.outbox)
            cur.executemany(
                f"INSERT INTO {DELIVERY_TABLE} (dedup_key, channel, state, attempts,"
                " next_attempt_at, created_at, updated_at) VALUES (?, ?, 'pending', 0, ?, ?, ?)"
                " ON CONFLICT (dedup_key) DO NOTHING",
                [(r[0], r[4], r[13], r[13], r[13]) for r in self.outbox],
            )

    def _write(
        self,
        table: str,
        key: str,
        columns: Sequence[str],
        dirty: set[str],
        rows: dict[str, dict[str, Any] | None],
    ) -> None:
        gone = [(k,) for k in sorted(dirty) if rows.get(k) is None]
        kept = [
            tuple(row.get(c) for c in columns)
            for k in sorted(dirty)
            if (row := rows.get(k)) is not None
        ]
        if gone:
            self.cur.executemany(f"DELETE FROM {table} WHERE {key} = ?", gone)
        if kept:
            _upsert(self.cur, table, key, columns, kept)


def _insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({','.join(columns)}) VALUES ({','.join('?' * len(columns))})"


def _upsert(
    cur: Cursor, table: str, key: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    updates = ",".join(f"{c} = excluded.{c}" for c in columns if c != key)
    cur.executemany(f"{_insert(table, columns)} ON CONFLICT ({key}) DO UPDATE SET {updates}", rows)


# -- queries -----------------------------------------------------------------------------------


def inbox(
    store: ViewStore,
    person: str,
    *,
    as_of: datetime | None = None,
    limit: int = 100,
    before: int | None = None,
    unread: bool = False,
) -> tuple[list[dict[str, Any]], int | None]:
    """A person's inbox, newest first (as held at ``as_of``); returns (items, next cursor)."""
    sql = (
        "SELECT id, position, kind, hazard_id, number, title, body, link, created_at,"
        " read_at, acknowledged_at FROM inbox WHERE person = ?"
    )
    params: list[Any] = [person]
    at = iso(as_of)
    if at is not None:
        sql += " AND created_at <= ?"
        params.append(at)
    if before is not None:
        sql += " AND position < ?"
        params.append(before)
    if unread:
        if at is None:
            sql += " AND read_at IS NULL"
        else:
            sql += " AND (read_at IS NULL OR read_at > ?)"
            params.append(at)
    sql += " ORDER BY position DESC, id LIMIT ?"
    params.append(limit + 1)
    with store.read() as cur:
        rows = [dict(r) for r in cur.execute(sql, params).fetchall()]
    items = [_as_of(r, at) for r in rows[:limit]]
    next_before = rows[limit - 1]["position"] if len(rows) > limit else None
    return items, next_before


def _as_of(row: dict[str, Any], at: str | None) -> dict[str, Any]:
    read_at = row["read_at"] if at is None or (row["read_at"] or "~") <= at else None
    ack_at = row["acknowledged_at"] if at is None or (row["acknowledged_at"] or "~") <= at else None
    return {
        "id": row["id"],
        "kind": row["kind"],
        "hazard_id": row["hazard_id"],
        "number": row["number"],
        "title": row["title"],
        "body": row["body"],
        "link": row["link"],
        "created_at": row["created_at"],
        "read": read_at is not None,
        "read_at": read_at,
        "acknowledged": ack_at is not None,
        "acknowledged_at": ack_at,
    }


def inbox_owner(store: ViewStore, item_id: str) -> str | None:
    """The person an inbox item is addressed to (None: no such item)."""
    with store.read() as cur:
        row = cur.execute("SELECT person FROM inbox WHERE id = ?", (item_id,)).fetchone()
    return row["person"] if row else None
