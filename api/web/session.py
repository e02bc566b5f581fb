"""Signed session cookies (itsdangerous) carrying who is signed in and the CSRF token.

The cookie holds no secret beyond the CSRF token: the person id, the account's generation
(a password change ends older sessions), how they signed in and the language of an
anonymous visitor. It is HttpOnly, SameSite=Lax, and Secure behind TLS.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "safeloop_session"
CSRF_FIELD = "csrf_token"


@dataclass
class WebSession:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    person: str | None = None
    generation: int = 0
    via: str = ""
    lang: str | None = None
    #: single sign-on in progress: state, nonce, PKCE verifier, where to go next
    sso: dict[str, str] | None = None
    next: str | None = None
    #: a one-time message for the next page (e.g. "filed YH-...")
    flash: str | None = None
    dirty: bool = field(default=False, compare=False)

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token).encode(), self.csrf.encode())

    def sign_in(self, person: str, generation: int, via: str) -> None:
        """A new session (new CSRF token) for ``person``: no fixation of the anonymous one."""
        self.csrf = secrets.token_urlsafe(24)
        self.person = person
        self.generation = generation
        self.via = via
        self.sso = None
        self.dirty = True

    def sign_out(self) -> None:
        self.csrf = secrets.token_urlsafe(24)
        self.person = None
        self.generation = 0
        self.via = ""
        self.sso = None
        self.dirty = True

    def set_flash(self, message: str | None) -> None:
        self.flash = message
        self.dirty = True

    def take_flash(self) -> str | None:
        message, self.flash = self.flash, None
        if message:
            self.dirty = True
        return message


class SessionCodec:
    def __init__(self, secret: str, max_age_seconds: float, cookie_secure: str = "auto") -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="safeloop-session")
        self.max_age = int(max_age_seconds)
        self.cookie_secure = cookie_secure

    def load(self, request: Request) -> WebSession:
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data: dict[str, Any] = self.serializer.loads(raw, max_age=self.max_age)
                return WebSession(**{k: v for k, v in data.items() if k != "dirty"})
            except (BadSignature, TypeError, ValueError):
                pass
        return WebSession(dirty=True)

    def secure(self, request: Request) -> bool:
        if self.cookie_secure == "always":
            return True
        if self.cookie_secure == "never":
            return False
        return request.url.scheme == "https"

    def save(self, session: WebSession, request: Request, response: Response) -> None:
        if not session.dirty:
            return
        data = asdict(session)
        data.pop("dirty")
        response.set_cookie(
            COOKIE,
            self.serializer.dumps(data),
            max_age=self.max_age,
            httponly=True,
            samesite="lax",
            secure=self.secure(request),
            path="/",
        )
