"""Inboxes: what each person was sent (notices, copies, reminders, escalations, digests),
and whether they read and acknowledged it — now, or as held at an instant."""

from __future__ import annotations

import re
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import Principal, PrincipalDep, ServicesDep
from api.errors import ApiError, forbidden
from api.routes.hazards import AsOf, aware
from api.services import Services
from domain.errors import NotFound
from projections import notifications
from projections.store import select_in
from projections.timefmt import iso

router = APIRouter(tags=["inbox"])

#: roles that may read other people's inboxes (besides the admin)
READ_OTHERS = frozenset({"auditor", "info_office"})
MAX_LIMIT = 500


class InboxItem(BaseModel):
    id: UUID
    kind: str
    hazard_id: UUID | None
    number: str | None
    title: str
    body: str
    link: str | None
    created_at: str
    read: bool
    read_at: str | None
    acknowledged: bool
    acknowledged_at: str | None


class Inbox(BaseModel):
    person: str
    as_of: str | None
    items: list[InboxItem]
    next_cursor: str | None


class ReceiptOut(BaseModel):
    id: UUID
    read: bool
    read_at: str | None
    acknowledged: bool
    acknowledged_at: str | None
    #: False when it had been read / acknowledged already (nothing new was recorded)
    changed: bool


def _may_read(principal: Principal, person: str) -> bool:
    return principal.is_admin or principal.actor == person or principal.role in READ_OTHERS


def _visible(
    services: Services, viewer: Principal, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Only items about findings the viewer may see now (e.g. a responsible person named
    from another unit is told, but the item itself stays within the access rules)."""
    ids = sorted({i["hazard_id"] for i in items if i["hazard_id"]})
    seen: set[str] = set()
    with services.store.read() as cur:
        for row in select_in(
            cur, "SELECT id, department, reporter FROM hazard_board WHERE id IN", ids
        ):
            if viewer.can_see_department(row["department"]) or row["reporter"] == viewer.actor:
                seen.add(row["id"])
    return [i for i in items if i["hazard_id"] is None or i["hazard_id"] in seen]


def _inbox(
    services: Services,
    viewer: Principal,
    person: str,
    as_of: AsOf,
    limit: int,
    cursor: str | None,
    unread: bool,
) -> Inbox:
    when = aware(as_of, services)
    if services.app.org().person(person) is None and (
        when is None or services.app.org(as_of=when).person(person) is None
    ):
        raise NotFound("person", person)
    if cursor is not None and not re.fullmatch(r"[0-9]{1,18}", cursor):
        raise ApiError(
            422,
            "invalid_input",
            "cursor is not one this server gave out",
            "游标无效",
            fields=[{"field": "cursor", "en": "invalid cursor", "zh": "游标无效"}],
        )
    items, next_before = notifications.inbox(
        services.store,
        person,
        as_of=when,
        limit=limit,
        before=int(cursor) if cursor else None,
        unread=unread,
    )
    if not viewer.sees_all:
        items = _visible(services, viewer, items)
    return Inbox(
        person=person,
        as_of=iso(when),
        items=[InboxItem(**item) for item in items],
        next_cursor=str(next_before) if next_before is not None else None,
    )


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=40)]


@router.get(
    "/api/v1/people/{person_id}/inbox",
    response_model=Inbox,
    summary="A person's inbox, newest first (as it stood at an instant, with as_of)",
)
def person_inbox(
    person_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    as_of: AsOf = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    unread: bool = False,
) -> Inbox:
    if not _may_read(principal, person_id):
        raise forbidden(
            "you may only read your own inbox", "只能查看本人的消息（审计和信息办除外）"
        )
    return _inbox(services, principal, person_id, as_of, limit, cursor, unread)


@router.get("/api/v1/inbox", response_model=Inbox, summary="Your own inbox, newest first")
def my_inbox(
    services: ServicesDep,
    principal: PrincipalDep,
    as_of: AsOf = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    unread: bool = False,
) -> Inbox:
    if principal.is_admin:
        return Inbox(person=principal.actor, as_of=None, items=[], next_cursor=None)
    return _inbox(services, principal, principal.actor, as_of, limit, cursor, unread)


def _receipt(
    item_id: UUID, services: Services, principal: Principal, *, acknowledge: bool
) -> ReceiptOut:
    owner = notifications.inbox_owner(services.store, str(item_id))
    if owner is None:
        raise NotFound("inbox item", str(item_id))
    if owner != principal.actor:
        raise forbidden(
            "only the recipient may read or acknowledge an inbox item",
            "只有收件人本人可以阅读或确认该消息",
        )
    command = services.app.acknowledge if acknowledge else services.app.mark_read
    result = command(item_id, person=principal.actor, now=services.now())
    services.caught_up(result.position)
    receipt = services.app.receipt(item_id)
    assert receipt is not None
    return ReceiptOut(
        id=item_id,
        read=receipt.read_at is not None,
        read_at=iso(receipt.read_at),
        acknowledged=receipt.acknowledged_at is not None,
        acknowledged_at=iso(receipt.acknowledged_at),
        changed=result.created,
    )


@router.post(
    "/api/v1/inbox/{item_id}/ack",
    response_model=ReceiptOut,
    summary="Acknowledge an inbox item (recorded as an event; a repeat records nothing)",
)
def acknowledge(item_id: UUID, services: ServicesDep, principal: PrincipalDep) -> ReceiptOut:
    return _receipt(item_id, services, principal, acknowledge=True)


@router.post(
    "/api/v1/inbox/{item_id}/read",
    response_model=ReceiptOut,
    summary="Mark an inbox item read (recorded as an event)",
)
def mark_read(item_id: UUID, services: ServicesDep, principal: PrincipalDep) -> ReceiptOut:
    return _receipt(item_id, services, principal, acknowledge=False)
