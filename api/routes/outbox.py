"""The outbox: delivery state of notifications by channel, dead letters, and retrying them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import PrincipalDep, ServicesDep
from api.errors import forbidden
from projections import outbox

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"])

READERS = frozenset({"info_office", "auditor"})


class Retry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: dedup keys to retry; omitted: every dead-lettered delivery
    keys: Annotated[list[str], Field(max_length=1000)] | None = None


class Retried(BaseModel):
    retried: int


@router.get("", summary="Deliveries by channel and state, and the latest (or dead) ones")
def status(
    services: ServicesDep,
    principal: PrincipalDep,
    state: Annotated[str | None, Query(description=" | ".join(outbox.STATES))] = None,
    channel: Annotated[str | None, Query(max_length=40)] = None,
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
