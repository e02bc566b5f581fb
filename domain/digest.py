"""The daily digest, as an event: the info office's and the leaders' summary of a site day.

The figures come from the ``digest`` read model (computed by the caller, the scheduler);
issuing records them once per site day (a natural key), with the people it was sent to, so
the inboxes and the outbox follow from the log and a second scheduler adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.app_base import SYSTEM_ACTOR, AppBase, CommandResult, position_of
from domain.errors import NotFound
from domain.ids import NAMESPACE

#: who receives the daily digest
DIGEST_ROLES = ("info_office", "mine_chief", "deputy_chief", "leader")


def digest_id(day: date) -> UUID:
    return uuid5(NAMESPACE, f"digest:{day.isoformat()}")


class Digest(Aggregate):
    class Issued(Aggregate.Created):
        day: str
        summary: dict[str, Any]
        recipients: list[str]
        actor: str
        occurred_at: datetime

        def apply(self, d: Digest) -> None:
            d.day = self.day
            d.summary = dict(self.summary)
            d.recipients = list(self.recipients)
            d.issued_at = self.timestamp

    if TYPE_CHECKING:  # attributes set by the events (no dataclass fields)
        day: str
        summary: dict[str, Any]
        recipients: list[str]
        issued_at: datetime


class DigestCommands(AppBase):
    """Issuing the daily digest (once per site day)."""

    def issue_digest(
        self, day: date, *, summary: Mapping[str, Any], now: datetime
    ) -> CommandResult:
        existing = self.digest(day)
        if existing is not None:
            return CommandResult(existing.id, "ISSUED", existing.version, None, False)
        org = self.org()
        recipients = [pid for role in DIGEST_ROLES for pid in org.people_with_role(role)]
        digest = Digest._create(
            Digest.Issued,
            id=digest_id(day),
            day=day.isoformat(),
            summary=dict(summary),
            recipients=list(dict.fromkeys(recipients)),
            actor=SYSTEM_ACTOR,
            occurred_at=now,
            timestamp=now,
        )
        try:
            recordings = self.save(digest)
        except IntegrityError:  # another scheduler issued it at the same moment
            found = self.digest(day)
            assert found is not None
            return CommandResult(found.id, "ISSUED", found.version, None, False)
        return CommandResult(digest.id, "ISSUED", digest.version, position_of(recordings), True)

    def digest(self, day: date) -> Digest | None:
        try:
            return self._get(Digest, digest_id(day), "digest")
        except NotFound:
            return None
