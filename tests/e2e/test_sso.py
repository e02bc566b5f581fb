"""Single sign-on (OpenID Connect) against a small local fake issuer on 127.0.0.1.

The fake issuer serves discovery, an authorize endpoint that signs the person in at once,
a token endpoint that checks the code, the PKCE verifier and the client's secret, and its
keys; it signs ID tokens with a fresh RSA key (joserfc). Tested: the whole redirect dance,
the ID token's checks (signature, issuer, audience, nonce), the state check, the mapping of
the claim to a person of the organisation, and that single sign-on is off by default.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from safeloop.settings import Settings
from safeloop.system import build_system
from safeloop.web import web_app
from tests.conftest import ORG, FakeClock

CLIENT_ID = "safeloop"
CLIENT_SECRET = "s3cret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:  # readiness, not a timing assumption
            assert self.thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@dataclass
class FakeIssuer:
    url: str
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    person: str = "o1"
    audience: str = CLIENT_ID
    signing_key: RSAKey | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, str]:
            return {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
            }

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            assert q["client_id"] == CLIENT_ID and q["code_challenge_method"] == "S256"
            code = f"code-{len(self.codes)}"
            self.codes[code] = {"nonce": q["nonce"], "challenge": q["code_challenge"]}
            back = urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

        @app.post("/token")
        def token(
            request: Request, code: str = Form(), code_verifier: str = Form()
        ) -> JSONResponse:
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("authorization") != expected:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = self.codes.pop(code, None)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if grant is None or grant["challenge"] != challenge:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {
                "iss": self.url,
                "aud": self.audience,
                "sub": f"sub-{self.person}",
                "preferred_username": self.person,
                "nonce": grant["nonce"],
                "iat": now,
                "exp": now + 300,
            }
            key = self.signing_key or self.key
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
            return JSONResponse(
                {"access_token": "at", "token_type": "Bearer", "id_token": id_token}
            )

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return dict(KeySet([self.key]).as_dict(private=False))

        return app


@dataclass
class Sso:
    base_url: str
    issuer: FakeIssuer

    def sign_in(self) -> tuple[httpx.Client, httpx.Response]:
        client = httpx.Client(base_url=self.base_url, follow_redirects=True, timeout=60)
        return client, client.get("/sso/login")


@pytest.fixture
def sso(tmp_path: Path) -> Iterator[Sso]:
    issuer_port, port = free_port(), free_port()
    issuer = FakeIssuer(f"http://127.0.0.1:{issuer_port}")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'sso.db'}",
        upload_dir=tmp_path / "uploads",
        base_url=f"http://127.0.0.1:{port}",
        oidc_issuer=issuer.url,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )
    system = build_system(settings, clock=FakeClock())
    system.app.load_org(copy.deepcopy(ORG), actor="admin", now=system.now())
    with Server(issuer.app(), issuer_port), Server(web_app(system, with_scheduler=False), port):
        yield Sso(f"http://127.0.0.1:{port}", issuer)


def test_single_sign_on_signs_a_person_of_the_organisation_in(sso: Sso) -> None:
    client, response = sso.sign_in()
    assert response.status_code == 200 and str(response.url).endswith("/queue")
    assert [r.status_code for r in response.history] == [303, 302, 303]
    assert "蒋慧敏" in response.text  # o1, the information office
    assert client.get("/queue").status_code == 200
    login = client.get("/login?next=/boards")
    assert str(login.url).endswith("/boards")  # already signed in


def test_single_sign_on_refuses_what_it_cannot_trust(sso: Sso) -> None:
    sso.issuer.person = "nobody"  # not a person of the organisation
    client, response = sso.sign_in()
    assert response.status_code == 403 and "统一身份认证登录未成功" in response.text
    assert client.get("/queue", follow_redirects=False).status_code == 303

    sso.issuer.person = "o1"
    sso.issuer.audience = "another-client"
    assert sso.sign_in()[1].status_code == 403
    sso.issuer.audience = CLIENT_ID
    sso.issuer.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # forged
    assert sso.sign_in()[1].status_code == 403
    sso.issuer.signing_key = None

    # an answer this browser did not ask for (wrong state) is refused
    client = httpx.Client(base_url=sso.base_url, timeout=60)
    client.get("/login")
    forged = client.get("/sso/callback", params={"code": "code-0", "state": "guessed"})
    assert forged.status_code == 403
    assert sso.sign_in()[1].status_code == 200  # and the real thing still works


def test_single_sign_on_is_off_unless_configured(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'off.db'}")
    system = build_system(settings, clock=FakeClock())
    system.app.load_org(copy.deepcopy(ORG), actor="admin", now=system.now())
    port = free_port()
    with Server(web_app(system, with_scheduler=False), port) as server:
        client = httpx.Client(base_url=server.url)
        assert client.get("/sso/login").status_code == 404
        assert "/sso/login" not in client.get("/login").text
