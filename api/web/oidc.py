"""OpenID Connect single sign-on (authorization code flow with PKCE), off unless configured.

The provider is found by discovery (``<issuer>/.well-known/openid-configuration``); the ID
token is verified against the provider's keys (joserfc, authlib's JOSE library): signature,
issuer, audience, expiry and the nonce this server sent. The claim named by the settings
(``preferred_username`` by default) must be a person id of the organisation.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from api.services import OidcConfig


class SsoError(Exception):
    """Single sign-on did not complete; the message says why (logged, shown generically)."""


@dataclass(frozen=True)
class Started:
    url: str
    state: dict[str, str]


class OidcClient:
    def __init__(self, config: OidcConfig, redirect_uri: str, timeout: float = 10.0) -> None:
        self.config = config
        self.redirect_uri = redirect_uri
        self.timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                url = f"{self.config.issuer}/.well-known/openid-configuration"
                data = self._get_json(url)
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(data.get(key), str):
                        raise SsoError(f"the provider's discovery document lacks {key}")
                if data.get("issuer", "").rstrip("/") != self.config.issuer:
                    raise SsoError("the provider's discovery document names another issuer")
                self._metadata = data
            return self._metadata

    def start(self) -> Started:
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.config.scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        url = f"{self.metadata()['authorization_endpoint']}?{urlencode(query)}"
        return Started(url, {"state": state, "nonce": nonce, "verifier": verifier})

    def finish(self, *, code: str, state: str, started: dict[str, str] | None) -> str:
        """The person id the provider vouches for (raises SsoError otherwise)."""
        if not started or not state or state != started.get("state"):
            raise SsoError("the sign-on answer does not match a sign-on this browser started")
        meta = self.metadata()
        try:
            response = httpx.post(
                meta["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                    "code_verifier": started["verifier"],
                    "client_id": self.config.client_id,
                },
                auth=(self.config.client_id, self.config.client_secret)
                if self.config.client_secret
                else None,
                timeout=self.timeout,
            )
        except httpx.HTTPError as e:
            raise SsoError(f"the token endpoint is unreachable: {e}") from e
        if response.status_code != 200:
            raise SsoError(f"the token endpoint refused the code ({response.status_code})")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise SsoError("the provider sent no ID token")
        claims = self.verify(id_token, started["nonce"])
        person = claims.get(self.config.person_claim)
        if not isinstance(person, str) or not person:
            raise SsoError(f"the ID token has no {self.config.person_claim} claim")
        return person

    def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        keys = KeySet.import_key_set(self._get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        try:
            token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256"])
            registry = jwt.JWTClaimsRegistry(
                now=int(time.time()),
                leeway=60,
                iss={"essential": True, "value": self.config.issuer},
                aud={"essential": True, "value": self.config.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(token.claims)
        except (JoseError, ValueError) as e:
            raise SsoError(f"the ID token is not valid: {e}") from e
        return dict(token.claims)

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=self.timeout)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise SsoError(f"cannot read {url}: {e}") from e
        if not isinstance(data, dict):
            raise SsoError(f"{url} did not answer with a JSON object")
        return data
