"""The inbox as a page: what a person was sent (notices, copies, reminders, escalations,
case flags, digests), read and acknowledged — now, or as it stood at an instant.

The items and the rules are the JSON API's (``api.routes.inbox``): one sees one's own inbox
(the auditor and the information office may look at anyone's), only items about findings
one may see; reading and acknowledging are the same commands as ``POST
/api/v1/inbox/{id}/read`` and ``/ack``, recorded as events, by the recipient only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from api.errors import forbidden
from api.routes.inbox import _inbox, _may_read, _receipt
from api.web import labels
from api.web.core import Form, UserCtx, safe_next, text
from api.web.items import _parse_instant
from domain.errors import NotFound

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
ACTIONS = {"read": False, "ack": True}  # action → acknowledge?


def _page_link(link: str | None) -> str | None:
    """The item's or digest's page on this site (the stored link names the public address)."""
    if not link:
        return None
    parts = urlsplit(link)
    if not parts.path.startswith(("/items/", "/digest")):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@router.get("/inbox")
def inbox_page(
    ctx: UserCtx,
    as_of: str | None = None,
    unread: bool = False,
    cursor: str | None = None,
    person: str | None = None,
) -> Response:
    me = ctx.user.actor
    whose = (person or "").strip() or me
    if not _may_read(ctx.user, whose):
        raise forbidden(
            "you may only read your own inbox", "只能查看本人的消息（审计和信息办除外）"
        )
    when = _parse_instant(ctx, as_of) if as_of else None
    inbox = _inbox(ctx.services, ctx.user, whose, when, PAGE_SIZE, cursor, unread)
    own = whose == me
    items: list[dict[str, Any]] = []
    for item in inbox.items:
        entry = item.model_dump()
        entry["page"] = _page_link(item.link)
        if entry["page"] and when is not None:  # the item or the digest as of then too
            joiner = "&" if "?" in entry["page"] else "?"
            entry["page"] += f"{joiner}as_of=" + quote(when.isoformat())
        entry["kind_label"] = ctx._(labels.INBOX_KINDS.get(item.kind, item.kind))
        items.append(entry)
    query: dict[str, str] = {}
    if whose != me:
        query["person"] = whose
    if when is not None:
        query["as_of"] = when.isoformat()
    older = None
    if inbox.next_cursor is not None:
        older = "/inbox?" + urlencode(
            {**query, **({"unread": "true"} if unread else {}), "cursor": inbox.next_cursor}
        )
    return ctx.render(
        "inbox.html",
        items=items,
        whose=whose,
        own=own,
        as_of=when,
        unread=unread,
        older=older,
        may_act=own and when is None,
    )


@router.post("/inbox/{item_id}/{action}")
def inbox_action(ctx: UserCtx, form: Form, item_id: UUID, action: str) -> Response:
    if action not in ACTIONS:
        raise NotFound("action", action)
    receipt = _receipt(item_id, ctx.services, ctx.user, acknowledge=ACTIONS[action])
    if action == "ack":
        message = (
            ctx._("Acknowledged.")
            if receipt.changed
            else ctx._("It had been acknowledged already.")
        )
    else:
        message = ctx._("Marked as read.")
    back = safe_next(text(form, "next"), "/inbox").split("#")[0]
    return ctx.redirect(f"{back}#item-{item_id}", message)
