"""The organisation document: departments, people, heads and leaders."""

from __future__ import annotations

import json
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.auth import PrincipalDep, ServicesDep
from api.errors import ApiError
from api.routes.hazards import AsOf, aware
from api.schemas import Instant, OrgLoaded

router = APIRouter(prefix="/api/v1/org", tags=["organisation"])

DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["departments", "people"],
    "properties": {
        "departments": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "name_zh"],
                "properties": {
                    k: {"type": ["string", "null"]}
                    for k in (
                        "code",
                        "name_zh",
                        "name_en",
                        "specialty",
                        "unit_head",
                        "deputy_chief",
                        "leader_in_charge",
                    )
                },
            },
        },
        "people": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "role"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "role": {"type": "string"},
                    "department": {"type": ["string", "null"]},
                    "email": {"type": "string"},
                    "phone": {"type": "string"},
                    "language": {"type": "string", "enum": ["zh", "en"]},
                    "channels": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def parse_document(raw: bytes, content_type: str) -> Any:
    """A JSON or YAML organisation document (YAML when the content type says so)."""
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw.decode("utf-8"))
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as e:
        raise ApiError(
            422,
            "invalid_input",
            f"the document is not valid JSON or YAML: {e}",
            "文档不是有效的 JSON 或 YAML",
            fields=[{"field": "body", "en": "unreadable document", "zh": "无法解析的文档"}],
        ) from None


@router.put(
    "",
    response_model=OrgLoaded,
    summary="Load the organisation document (records only the differences)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": DOCUMENT_SCHEMA},
                "application/yaml": {"schema": DOCUMENT_SCHEMA},
            },
        }
    },
)
async def put_org(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    effective_at: Annotated[
        Instant | None,
        Query(description="when the changes took effect, if earlier than now (default: now)"),
    ] = None,
) -> OrgLoaded:
    principal.require_admin()
    document = parse_document(await request.body(), request.headers.get("content-type", ""))

    def load() -> OrgLoaded:
        changes = services.app.load_org(
            document,
            actor=principal.actor,
            now=services.now(),
            effective_at=aware(effective_at, services),
        )
        return OrgLoaded(changes=changes, version=services.app.org().version)

    return await run_in_threadpool(load)


@router.get("", summary="The organisation document (optionally as of an instant)")
def get_org(services: ServicesDep, _: PrincipalDep, as_of: AsOf = None) -> dict[str, Any]:
    org = services.app.org(as_of=aware(as_of, services))
    return {**org.document(), "version": org.version}
