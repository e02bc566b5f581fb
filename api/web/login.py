"""Signing in and out (password or single sign-on), and a person's own settings."""

from __future__ import annotations

import math

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from api.auth import principal_for
from api.web.core import Ctx, Form, PageCtx, UserCtx, log, safe_next, start_page, text
from api.web.i18n import LOCALES
from api.web.oidc import SsoError
from api.web.passwords import WeakPassword, hash_password, verify_password

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(ctx: PageCtx, next: str | None = None) -> Response:
    if ctx.principal is not None:
        return ctx.redirect(safe_next(next, start_page(ctx.principal)))
    return ctx.render("login.html", next=safe_next(next, ""), sso=ctx.web.oidc is not None)


@router.post("/login")
def login(ctx: PageCtx, form: Form) -> Response:
    person_id = text(form, "person")
    password = form.get("password")
    password = password if isinstance(password, str) else ""
    next_url = text(form, "next")
    now = ctx.services.now()
    client = ctx.request.client.host if ctx.request.client else "unknown"
    person_key, address_key = f"person:{person_id.lower()}", f"address:{client}"
    wait = max(
        ctx.web.person_throttle.wait(person_key, now),
        ctx.web.address_throttle.wait(address_key, now),
    )

    def again(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
        response = ctx.render(
            "login.html",
            status=status,
            error=message,
            person_value=person_id,
            next=safe_next(next_url, ""),
            sso=ctx.web.oidc is not None,
        )
        response.headers.update(headers or {})
        return response

    if wait > 0:
        seconds = math.ceil(wait)
        return again(
            ctx._("Too many wrong passwords. Try again in %(seconds)d seconds.")
            % {"seconds": seconds},
            429,
            {"Retry-After": str(seconds)},
        )
    account = ctx.services.app.account(person_id) if person_id else None
    ok = verify_password(account.password_hash if account else None, password)
    principal = (
        principal_for(ctx.services, person_id, admin=account.is_admin) if ok and account else None
    )
    if principal is None or account is None:
        ctx.web.person_throttle.failed(person_key, now)
        ctx.web.address_throttle.failed(address_key, now)
        return again(ctx._("Wrong person id or password."), 401)
    ctx.web.person_throttle.succeeded(person_key)
    ctx.session.sign_in(person_id, account.generation, "password")
    return ctx.redirect(safe_next(next_url, start_page(principal)))


@router.post("/logout")
def logout(ctx: PageCtx, form: Form) -> Response:
    ctx.session.sign_out()
    return ctx.redirect("/login", ctx._("You have signed out."))


@router.post("/language")
def choose_language(ctx: PageCtx, form: Form) -> Response:
    language = text(form, "language")
    back = safe_next(text(form, "next"), "/")
    if language not in LOCALES:
        return ctx.redirect(back)
    if ctx.principal is not None and ctx.person is not None:
        result = ctx.services.app.choose_language(
            ctx.principal.actor, language, actor=ctx.principal.actor, now=ctx.services.now()
        )
        ctx.services.caught_up(result.position)
    ctx.session.lang = language
    ctx.session.dirty = True
    return ctx.redirect(back)


@router.get("/account")
def account_page(ctx: UserCtx) -> Response:
    return ctx.render("account.html")


@router.post("/account/password")
def change_password(ctx: UserCtx, form: Form) -> Response:
    person = ctx.user.actor
    account = ctx.services.app.account(person)
    current = form.get("current")
    new = form.get("new")
    if not isinstance(current, str) or not isinstance(new, str):
        return ctx.render("account.html", status=422, error=ctx._("Fill in both passwords."))
    if account is None or not verify_password(account.password_hash, current):
        return ctx.render("account.html", status=422, error=ctx._("The current password is wrong."))
    try:
        password_hash = hash_password(new)
    except WeakPassword:
        return ctx.render(
            "account.html",
            status=422,
            error=ctx._("A password needs at least 8 characters."),
        )
    result = ctx.services.app.set_password_hash(
        person, password_hash, actor=person, now=ctx.services.now()
    )
    updated = ctx.services.app.account(person)
    assert updated is not None
    ctx.session.sign_in(person, updated.generation, "password")
    ctx.services.caught_up(result.position)
    return ctx.redirect("/account", ctx._("Your password has been changed."))


# -- single sign-on (OpenID Connect) -----------------------------------------------------------


@router.get("/sso/login")
def sso_login(ctx: PageCtx, next: str | None = None) -> Response:
    if ctx.web.oidc is None:
        return ctx.render("error.html", status=404, message=ctx._("Single sign-on is not set up."))
    try:
        started = ctx.web.oidc.start()
    except SsoError as e:
        return _sso_failed(ctx, str(e))
    ctx.session.sso = started.state
    ctx.session.next = safe_next(next, "")
    ctx.session.dirty = True
    return ctx.finish(RedirectResponse(started.url, status_code=303))


@router.get("/sso/callback")
def sso_callback(
    ctx: PageCtx, code: str = "", state: str = "", error: str | None = None
) -> Response:
    if ctx.web.oidc is None:
        return ctx.render("error.html", status=404, message=ctx._("Single sign-on is not set up."))
    if error:
        return _sso_failed(ctx, f"the provider answered {error!r}")
    try:
        person = ctx.web.oidc.finish(code=code, state=state, started=ctx.session.sso)
    except SsoError as e:
        return _sso_failed(ctx, str(e))
    account = ctx.services.app.account(person)
    principal = principal_for(ctx.services, person, admin=bool(account and account.is_admin))
    if principal is None:
        return _sso_failed(ctx, f"{person!r} is not a person of the organisation")
    next_url = ctx.session.next
    ctx.session.next = None
    ctx.session.sign_in(person, account.generation if account else 0, "sso")
    return ctx.redirect(safe_next(next_url, start_page(principal)))


def _sso_failed(ctx: Ctx, reason: str) -> Response:
    log.warning("single sign-on failed: %s", reason)
    ctx.session.sso = None
    ctx.session.dirty = True
    return ctx.render(
        "login.html",
        status=403,
        error=ctx._(
            "Single sign-on did not succeed. Sign in with your password or ask the office."
        ),
        next="",
        sso=True,
    )
