"""Errors as users see them: a code, a message in Chinese and English, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ErrorOut
from domain.errors import (
    Contention,
    DomainError,
    IllegalTransition,
    InvalidCommand,
    NotFound,
    VersionConflict,
)
from projections.store import UNAVAILABLE_ERRORS

log = logging.getLogger("safeloop.api")


class ApiError(Exception):
    """An error raised by the HTTP layer itself (auth, limits, bad headers)."""

    def __init__(self, status: int, code: str, en: str, zh: str, **extra: Any) -> None:
        super().__init__(en)
        self.status = status
        self.code = code
        self.en = en
        self.zh = zh
        self.extra = extra


def respond(
    request: Request,
    status_code: int,
    content: dict[str, Any],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """JSON for the API; a page when the pages asked for one (``app.state.render_error``)."""
    render = getattr(request.app.state, "render_error", None)
    is_page = getattr(request.app.state, "is_page", None)
    if render is not None and is_page is not None and is_page(request):
        response: Response = render(request, status_code, content, headers)
        return response
    return JSONResponse(status_code=status_code, content=content, headers=headers)


def body(code: str, en: str, zh: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": {"zh": zh, "en": en}, **extra}


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "a valid bearer token is required", "需要有效的访问令牌")


def forbidden(en: str = "not allowed for your role or department", zh: str = "") -> ApiError:
    return ApiError(403, "forbidden", en, zh or "您的角色或部门无权执行此操作")


#: Chinese for pydantic's error types (the English comes from pydantic)
_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段",
    "string_type": "应为文本",
    "string_too_short": "文本过短",
    "string_too_long": "文本过长",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "bool_type": "应为布尔值（true/false）",
    "bool_parsing": "应为布尔值（true/false）",
    "literal_error": "取值无效",
    "enum": "取值无效",
    "datetime_type": "应为日期时间",
    "datetime_parsing": "日期时间格式无效（ISO 8601）",
    "datetime_from_date_parsing": "日期时间格式无效（ISO 8601）",
    "date_parsing": "日期格式无效（YYYY-MM-DD）",
    "date_from_datetime_parsing": "日期格式无效（YYYY-MM-DD）",
    "decimal_parsing": "应为数字",
    "decimal_type": "应为数字",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "uuid_parsing": "编号格式无效",
    "uuid_type": "编号格式无效",
    "json_invalid": "JSON 格式无效",
    "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "list_type": "应为列表",
    "too_long": "列表过长",
    "value_error": "取值无效",
    "date_out_of_range": "日期必须在 2000 年至 2100 年之间",
    "decimal_max_digits": "数字位数过多",
    "decimal_max_places": "小数位数过多（最多 2 位）",
    "control_characters": "不能包含控制字符（如 NUL）",
    "finite_number": "应为有限数字",
}


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic's errors as ``{field, en, zh}`` (the API's 422 and the bulk import's report)."""
    return [
        {
            "field": _field_name(tuple(err.get("loc", ()))),
            "en": str(err.get("msg", "invalid")),
            "zh": _ZH.get(str(err.get("type")), "输入无效"),
        }
        for err in errors
    ]


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
}
#: the errors any JSON endpoint may answer with (documented in the OpenAPI of each)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no valid bearer token (a revoked one included)"},
    403: {"model": ErrorOut, "description": "outside your role or department"},
    404: {"model": ErrorOut, "description": "unknown id"},
    409: {"model": ErrorOut, "description": "illegal in the item's state, or a version conflict"},
    413: {"model": ErrorOut, "description": "request body over the limit"},
    422: {"model": ErrorOut, "description": "invalid input: `fields` names each problem"},
    503: {
        "model": ErrorOut,
        "description": "the store is unreachable or too busy; retry after `Retry-After`",
        "headers": _RETRY_AFTER,
    },
}


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> Response:
        fields = field_errors(exc.errors())
        detail = [
            {k: v for k, v in err.items() if k in ("type", "loc", "msg")} for err in exc.errors()
        ]
        return respond(
            request,
            status_code=422,
            content=body(
                "invalid_input",
                "the request has invalid fields",
                "请求中有无效字段",
                fields=fields,
                detail=detail,
            ),
        )

    @app.exception_handler(InvalidCommand)
    async def invalid(request: Request, exc: InvalidCommand) -> Response:
        return respond(
            request,
            status_code=422,
            content=body(
                exc.code,
                exc.en,
                exc.zh,
                fields=[{"field": exc.field, "en": exc.en, "zh": exc.zh}],
            ),
        )

    @app.exception_handler(IllegalTransition)
    async def illegal(request: Request, exc: IllegalTransition) -> Response:
        return respond(
            request,
            status_code=409,
            content=body(exc.code, exc.en, exc.zh, state=exc.state, allowed=exc.allowed),
        )

    @app.exception_handler(VersionConflict)
    async def conflict(request: Request, exc: VersionConflict) -> Response:
        return respond(
            request,
            status_code=409,
            content=body(
                exc.code, exc.en, exc.zh, state=exc.state, allowed=exc.allowed, version=exc.version
            ),
        )

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return respond(request, status_code=404, content=body(exc.code, exc.en, exc.zh))

    @app.exception_handler(Contention)
    async def busy(request: Request, exc: Contention) -> Response:
        return respond(
            request,
            status_code=503,
            content=body(exc.code, exc.en, exc.zh),
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(DomainError)
    async def domain(request: Request, exc: DomainError) -> Response:
        return respond(request, status_code=409, content=body(exc.code, exc.en, exc.zh))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return respond(
            request,
            status_code=exc.status,
            content=body(exc.code, exc.en, exc.zh, **exc.extra),
            headers=headers,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # a body that cannot be parsed at all (e.g. not UTF-8)
            return respond(
                request,
                status_code=422,
                content=body(
                    "invalid_input",
                    "the request body could not be read (it must be UTF-8 JSON)",
                    "请求内容无法解析（应为 UTF-8 编码的 JSON）",
                    fields=[{"field": "body", "en": "unreadable body", "zh": "无法解析的请求内容"}],
                ),
            )
        messages = {
            404: ("not_found", "no such page or endpoint", "页面或接口不存在"),
            405: ("method_not_allowed", "method not allowed", "不支持该请求方法"),
        }
        code, en, zh = messages.get(exc.status_code, ("http_error", str(exc.detail), "请求错误"))
        return respond(
            request, status_code=exc.status_code, content=body(code, en, zh), headers=exc.headers
        )

    for error_class in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error_class, _unavailable)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error", extra={"path": request.url.path})
        return respond(
            request,
            status_code=500,
            content=body(
                "internal_error",
                "an unexpected error occurred; it has been logged",
                "发生意外错误，已记录日志",
            ),
        )


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("store unavailable", extra={"path": request.url.path, "error": str(exc)})
    return respond(
        request,
        status_code=503,
        content=body(
            "store_unavailable",
            "the data store is unavailable; retry shortly",
            "数据存储暂时不可用，请稍后重试",
        ),
        headers={"Retry-After": "5"},
    )
