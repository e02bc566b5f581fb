"""What every page shares: the signed-in person, their language, rendering, CSRF, errors."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from api.auth import DEPARTMENT_ACTORS, Principal, principal_for
from api.routes.cases import sees_all_cases
from api.services import Services
from api.web import labels
from api.web.i18n import DEFAULT_LANGUAGE, N_, Lang, normalise
from api.web.oidc import OidcClient
from api.web.session import CSRF_FIELD, SessionCodec, WebSession
from api.web.throttle import LoginThrottle
from api.web.uploads import MAX_PHOTOS, PhotoStore, strip_references
from domain.organisation import Organisation

log = logging.getLogger("safeloop.web")

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        " form-action 'self' https: http:; frame-ancestors 'none'"
    ),
}


@dataclass
class WebState:
    """Per-application state of the pages (built once by ``api.pages.install``)."""

    codec: SessionCodec
    person_throttle: LoginThrottle
    address_throttle: LoginThrottle
    photos: PhotoStore
    oidc: OidcClient | None
    templates: Jinja2Templates

    @classmethod
    def build(cls, services: Services) -> WebState:
        config = services.web
        secret = config.secret_key
        if not secret:
            log.warning("SAFELOOP_SECRET_KEY is not set: sessions end when the server restarts")
            secret = secrets.token_urlsafe(32)
        oidc = OidcClient(config.oidc, f"{config.base_url}/sso/callback") if config.oidc else None
        templates = Jinja2Templates(directory=str(TEMPLATES))
        templates.env.globals.update(
            state_labels=labels.STATES,
            grade_labels=labels.GRADES,
            kind_labels=labels.KINDS,
            event_labels=labels.EVENTS,
            command_labels=labels.COMMANDS,
            case_state_labels=labels.CASE_STATES,
            case_kind_labels=labels.CASE_KINDS,
        )
        templates.env.filters["photo_free"] = strip_references
        return cls(
            codec=SessionCodec(secret, config.session_hours * 3600, config.cookie_secure),
            person_throttle=LoginThrottle(free_failures=3),
            address_throttle=LoginThrottle(free_failures=20),
            photos=PhotoStore(Path(config.upload_dir), config.upload_max_bytes),
            oidc=oidc,
            templates=templates,
        )


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


@dataclass(frozen=True)
class NavEntry:
    key: str
    path: str
    label: str
    shown: Callable[[Principal], bool]
    #: shown only once the application serves this path (pages other issues add)
    needs_route: bool = False


def _sees_all(p: Principal) -> bool:
    return p.sees_all


def _office(p: Principal) -> bool:
    return p.is_admin or p.role == "info_office"


def _safety(p: Principal) -> bool:
    return p.is_admin or p.role in ("safety_dept", "safety_supervisor")


def _cases(p: Principal) -> bool:
    """Those who see every case, and a unit's managers and staff (their unit's cases)."""
    return sees_all_cases(p) or p.role in DEPARTMENT_ACTORS


def _scores(p: Principal) -> bool:
    return p.sees_all or p.role in DEPARTMENT_ACTORS


def _runs(p: Principal) -> bool:
    return p.is_admin or p.role in ("info_office", *DEPARTMENT_ACTORS)


NAV: list[NavEntry] = [
    NavEntry("file", "/file", N_("File a finding"), lambda p: not p.read_only),
    NavEntry("mine", "/mine", N_("My findings"), lambda p: not p.read_only),
    NavEntry("queue", "/queue", N_("Screening queue"), _office),
    NavEntry("boards", "/boards", N_("Boards"), lambda p: True),
    NavEntry("recheck", "/items?state=SUBMITTED", N_("Awaiting recheck"), _safety),
    NavEntry("escalated", "/items?overdue=true", N_("Escalated"), lambda p: True),
    # hooks for pages that other work adds: shown once their routes exist
    NavEntry("inbox", "/inbox", N_("Inbox"), lambda p: True, needs_route=True),
    NavEntry("digest", "/digest", N_("Daily digest"), _sees_all, needs_route=True),
    NavEntry("cases", "/cases", N_("Cases"), _cases, needs_route=True),
    NavEntry("scorecards", "/scorecards", N_("Scorecards"), _scores, needs_route=True),
    NavEntry("certificates", "/certificates", N_("Certificates"), _scores, needs_route=True),
    NavEntry("checklist", "/checklists/run", N_("Pre-shift checklist"), _runs, needs_route=True),
    NavEntry("audit", "/audit", N_("Look back"), lambda p: True),
]


def served_routes(routes: Iterable[Any]) -> list[tuple[str, frozenset[str]]]:
    """(path, methods) of every route, also inside included routers (FastAPI nests them)."""
    found: list[tuple[str, frozenset[str]]] = []
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):
            found.extend(served_routes(contexts()))
        elif isinstance(getattr(route, "path", None), str):
            found.append((route.path, frozenset(getattr(route, "methods", None) or ())))
    return found


def start_page(p: Principal) -> str:
    """Where a person lands after signing in."""
    if p.is_admin:
        return "/boards"
    if p.role == "info_office":
        return "/queue"
    if p.role in ("safety_dept", "safety_supervisor"):
        return "/items?state=SUBMITTED"
    if p.role == "auditor":
        return "/audit"
    if p.sees_all:
        return "/items?overdue=true"
    if p.role in DEPARTMENT_ACTORS and p.department:
        return f"/boards/{quote(p.department)}"
    return "/file"


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class CsrfRefused(Exception):
    pass


@dataclass
class Ctx:
    """One page request: who, in which language, with which session."""

    request: Request
    services: Services
    web: WebState
    session: WebSession
    lang: Lang
    principal: Principal | None
    person: dict[str, Any] | None

    @property
    def user(self) -> Principal:
        assert self.principal is not None
        return self.principal

    def _(self, message: str) -> str:
        return self.lang.gettext(message)

    def org(self) -> Organisation:
        return self.services.app.org()

    def person_name(self, person_id: str | None) -> str:
        if not person_id:
            return ""
        if person_id == "admin":
            return self._("Administrator")
        if person_id == "system":
            return self._("System")
        record = self.services.app.org().person(person_id)
        return f"{record['name']}" if record else person_id

    def department_name(self, code: str | None) -> str:
        if not code:
            return ""
        return self.lang.department(self.services.app.org().department(code), code)

    def nav(self) -> list[dict[str, Any]]:
        if self.principal is None:
            return []
        paths = {path for path, _ in served_routes(self.request.app.routes)}
        current = self.request.url.path
        entries = []
        for entry in NAV:
            if not entry.shown(self.principal):
                continue
            if entry.needs_route and entry.path not in paths:
                continue
            entries.append(
                {
                    "key": entry.key,
                    "path": entry.path,
                    "label": self._(entry.label),
                    "current": current == entry.path.split("?")[0],
                }
            )
        return entries

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        now = self.services.now()
        base = {
            "ctx": self,
            "_": self._,
            "lang": self.lang,
            "now": now,
            "user": self.principal,
            "person": self.person,
            "csrf_field": CSRF_FIELD,
            "csrf_token": self.session.csrf,
            "flash": self.session.take_flash(),
            "nav": self.nav(),
            "role_label": (
                self._(labels.ROLES.get(self.principal.role, self.principal.role))
                if self.principal
                else ""
            ),
            "max_photos": MAX_PHOTOS,
        }
        response = self.web.templates.TemplateResponse(
            self.request, template, {**base, **context}, status_code=status
        )
        return self.finish(response)

    def redirect(self, url: str, flash: str | None = None) -> Response:
        if flash:
            self.session.set_flash(flash)
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        self.web.codec.save(self.session, self.request, response)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def _context(request: Request) -> Ctx:
    services: Services = request.app.state.services
    web = web_state(request)
    session = web.codec.load(request)
    principal: Principal | None = None
    person: dict[str, Any] | None = None
    language = session.lang
    if session.person:
        account = services.app.account(session.person)
        generation = account.generation if account else 0
        valid = generation == session.generation and (
            session.via == "sso" or (account is not None and account.password_hash is not None)
        )
        if valid:
            principal = principal_for(
                services, session.person, admin=bool(account and account.is_admin)
            )
        if principal is None:
            session.sign_out()
        else:
            person = services.app.org().person(session.person)
            language = (account.language if account else None) or (person or {}).get("language")
    lang = Lang(normalise(language or DEFAULT_LANGUAGE), services.policy.zone)
    return Ctx(request, services, web, session, lang, principal, person)


def page_context(request: Request) -> Ctx:
    """The context of a page anyone may see."""
    return _context(request)


def user_context(request: Request) -> Ctx:
    """The context of a page for signed-in people (otherwise: to the login page)."""
    ctx = _context(request)
    if ctx.principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return ctx


PageCtx = Annotated[Ctx, Depends(page_context)]
UserCtx = Annotated[Ctx, Depends(user_context)]


async def checked_form(request: Request) -> FormData:
    """The submitted form, refused unless it carries this session's CSRF token."""
    web = web_state(request)
    form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=200)
    session = web.codec.load(request)
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or session.dirty or not session.csrf_ok(token):
        raise CsrfRefused()
    return form


Form = Annotated[FormData, Depends(checked_form)]


def text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def safe_next(url: str | None, default: str = "/") -> str:
    """Only same-site paths (no open redirects)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default
