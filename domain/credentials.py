"""API tokens, as events: who was given access, when, and when it was revoked.

Only a SHA-256 digest of a token's secret is stored; the secret is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.app_base import AppBase
from domain.errors import NotFound

TOKEN_PREFIX = "sl"  # noqa: S105 - a label, not a secret


class Credential(Aggregate):
    class Issued(Aggregate.Created):
        person: str
        digest: str
        label: str
        actor: str

        def apply(self, c: Credential) -> None:
            c.person = self.person
            c.digest = self.digest
            c.label = self.label
            c.revoked = False

    class Revoked(Aggregate.Event):
        actor: str
        reason: str

        def apply(self, c: Credential) -> None:
            c.revoked = True

    if TYPE_CHECKING:  # attributes set by the events (no dataclass fields)
        person: str
        digest: str
        label: str
        revoked: bool

    @classmethod
    def issue(
        cls, credential_id: UUID, person: str, digest: str, label: str, actor: str, now: datetime
    ) -> Credential:
        return cls._create(
            cls.Issued,
            id=credential_id,
            person=person,
            digest=digest,
            label=label,
            actor=actor,
            timestamp=now,
        )

    def revoke(self, actor: str, reason: str, now: datetime) -> None:
        if not self.revoked:
            self.trigger_event(
                self.Revoked, actor=actor, reason=reason, timestamp=max(now, self.modified_on)
            )


class CredentialCommands(AppBase):
    """Issuing, revoking and checking API tokens."""

    def create_token(self, person: str, *, label: str, actor: str, now: datetime) -> str:
        """Issue an API token for a person; the returned secret is shown once."""
        if self.org().person(person) is None:
            raise NotFound("person", person)
        credential_id = uuid4()
        secret = secrets.token_urlsafe(32)
        self.save(Credential.issue(credential_id, person, _digest(secret), label, actor, now))
        return f"{TOKEN_PREFIX}_{credential_id.hex}_{secret}"

    def revoke_token(self, token_or_id: str, *, actor: str, reason: str, now: datetime) -> None:
        credential_id = _credential_id(token_or_id)
        if credential_id is None:
            raise NotFound("token", token_or_id[:40])
        credential = self._get(Credential, credential_id, "token")
        credential.revoke(actor, reason, now)
        self.save(credential)

    def authenticate(self, token: str) -> str | None:
        """The person a token belongs to, or None (unknown, wrong secret or revoked)."""
        parts = token.split("_", 2)
        credential_id = _credential_id(token)
        if credential_id is None or len(parts) != 3:
            return None
        try:
            credential = self._get(Credential, credential_id, "token")
        except NotFound:
            return None
        if credential.revoked or not hmac.compare_digest(credential.digest, _digest(parts[2])):
            return None
        return credential.person


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _credential_id(token: str) -> UUID | None:
    parts = token.split("_", 2)
    if len(parts) < 2 or parts[0] != TOKEN_PREFIX:
        return None
    try:
        return UUID(hex=parts[1])
    except ValueError:
        return None
