"""The outbox: delivery state of notifications by channel, dead letters, and retrying them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import PrincipalDep, ServicesDep
from api.errors import forbidden
from projections import outbox
from projections.notifications import CHANNELS

State = Literal["pending", "sending", "sent", "dead", "skipped"]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
#: a dedup key: printable text only
Key = Annotated[str, Field(min_length=1, max_length=400, pattern=r"^[^\x00-\x1f\x7f]+$")]

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"])

READERS = frozenset({"info_office", "auditor"})


class Retry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: dedup keys to retry; omitted: every dead-lettered delivery
    keys: Annotated[list[Key], Field(max_length=1000)] | None = None


class Retried(BaseModel):
    retried: int


@router.get("", summary="Deliveries by channel and state, and the latest (or dead) ones")
def status(
    services: ServicesDep,
    principal: PrincipalDep,
    state: State | None = None,
    channel: Channel | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    if not (principal.is_admin or principal.role in READERS):
        raise forbidden()
    return {
        "counts": outbox.counts(services.store),
        "items": outbox.deliveries(services.store, state=state, channel=channel, limit=limit),
    }


@router.post("/retry", response_model=Retried, summary="Put dead-lettered deliveries back")
def retry(
    services: ServicesDep,
    principal: PrincipalDep,
    body: Annotated[Retry | None, Body()] = None,
) -> Retried:
    principal.require_admin()
    keys = body.keys if body is not None else None
    return Retried(retried=outbox.retry(services.store, now=services.now(), keys=keys))
