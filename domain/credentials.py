"""API tokens, as events: who was given access, when, and when it was revoked.

Only a SHA-256 digest of a token's secret is stored; the secret is shown once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import Aggregate


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
