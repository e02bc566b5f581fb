"""Server-rendered pages (Jinja2): filing, screening, boards, items, look back, sign-in,
accountability cases, site visits, scorecards, the inbox and the daily digest, certificates
and pre-shift checklists.

The pages live in ``api/web``; this module puts them together and installs what they share
(the session codec, the login throttle, the photo store, HTML error pages, static files).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import body, log
from api.web import boards, cases, digest, inbox, items, login, scorecards, training, visits
from api.web.core import (
    STATIC,
    CsrfRefused,
    LoginRequired,
    PageCtx,
    WebState,
    page_context,
    start_page,
)

router = APIRouter(include_in_schema=False)
router.include_router(login.router)
router.include_router(items.router)
router.include_router(boards.router)
router.include_router(cases.router)
router.include_router(visits.router)
router.include_router(scorecards.router)
router.include_router(inbox.router)
router.include_router(digest.router)
router.include_router(training.router)

#: paths answered in JSON even on error (everything else is a page)
NOT_PAGES = ("/api/", "/healthz", "/metrics", "/docs", "/redoc", "/openapi.json", "/static/")


@router.get("/")
def index(ctx: PageCtx) -> Response:
    if ctx.principal is not None:
        return ctx.redirect(start_page(ctx.principal))
    org = ctx.org()
    departments = sorted(org.departments.values(), key=lambda d: d["code"])
    return ctx.render("index.html", departments=departments, people=len(org.people))


def install(app: FastAPI) -> None:
    """Set up what the pages share; call once, after the routers are included."""
    app.state.web = WebState.build(app.state.services)
    app.state.render_error = render_error
    app.state.is_page = is_page
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.add_middleware(PageErrors)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        ctx = page_context(request)
        return ctx.redirect(f"/login?next={quote(exc.next_url)}")

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return render_error(
            request,
            403,
            {
                "error": "csrf",
                "message": {
                    "en": "The form has expired or did not come from this site. "
                    "Go back, reload the page and try again.",
                    "zh": "表单已过期或并非来自本站，请返回并刷新页面后重试。",
                },
            },
        )


class PageErrors:
    """An unexpected error on a page becomes the error page here, logged once, so it never
    reaches the server (which would print it again and may drop the connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(NOT_PAGES):
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unexpected error", extra={"path": scope.get("path")})
            if started:
                raise
            request = Request(scope)
            response = await run_in_threadpool(
                render_error,
                request,
                500,
                body(
                    "internal_error",
                    "an unexpected error occurred; it has been logged",
                    "发生意外错误，已记录日志",
                ),
            )
            await response(scope, receive, send)


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(NOT_PAGES)


def render_error(
    request: Request,
    status: int,
    payload: dict[str, Any],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error as a page in the reader's language (never a stack trace)."""
    message = payload.get("message") or {}
    try:
        ctx = page_context(request)
        text = ctx.lang.pick(str(message.get("en", "")), str(message.get("zh", "")))
        response = ctx.render("error.html", status=status, message=text, code=payload.get("error"))
    except Exception:  # the store may be what failed: a plain page then
        zh = html.escape(str(message.get("zh", "出错了")))
        en = html.escape(str(message.get("en", "Something went wrong")))
        response = HTMLResponse(
            "<!doctype html><meta charset=utf-8><title>safeloop</title>"
            f'<p>{zh}</p><p>{en}</p><p><a href="/">safeloop</a></p>',
            status_code=status,
        )
    for key, value in (headers or {}).items():
        if key.lower() != "www-authenticate":
            response.headers[key] = value
    return response
