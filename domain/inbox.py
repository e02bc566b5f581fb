"""Inbox receipts: that a person read or acknowledged a notification addressed to them.

The inbox itself is a read model (every notice, copy, reminder, escalation and digest sent
to a person); what a person did with an item is a fact, so it is an event of a small
aggregate, one per inbox item. "What did leader X know on day D" is then answerable from
the log: the item's arrival and its acknowledgement both have recorded times.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.app_base import AppBase, CommandResult, position_of
from domain.errors import InvalidCommand, NotFound
from domain.ids import NAMESPACE


def receipt_id(item_id: UUID) -> UUID:
    return uuid5(NAMESPACE, f"inbox-receipt:{item_id}")


class InboxReceipt(Aggregate):
    """What the recipient of one inbox item did with it."""

    class Event(Aggregate.Event):
        actor: str
        occurred_at: datetime

    class Opened(Aggregate.Created, Event):
        item_id: UUID
        person: str

        def apply(self, r: InboxReceipt) -> None:
            r.item_id = self.item_id
            r.person = self.person
            r.read_at = None
            r.acknowledged_at = None

    class Read(Event):
        item_id: UUID
        person: str

        def apply(self, r: InboxReceipt) -> None:
            r.read_at = self.timestamp

    class Acknowledged(Event):
        item_id: UUID
        person: str

        def apply(self, r: InboxReceipt) -> None:
            if r.read_at is None:
                r.read_at = self.timestamp
            r.acknowledged_at = self.timestamp

    if TYPE_CHECKING:  # attributes set by the events (no dataclass fields)
        item_id: UUID
        person: str
        read_at: datetime | None
        acknowledged_at: datetime | None

    @classmethod
    def open(cls, item_id: UUID, person: str, actor: str, now: datetime) -> InboxReceipt:
        return cls._create(
            cls.Opened,
            id=receipt_id(item_id),
            item_id=item_id,
            person=person,
            actor=actor,
            occurred_at=now,
            timestamp=now,
        )

    @property
    def state(self) -> str:
        if self.acknowledged_at is not None:
            return "ACKNOWLEDGED"
        return "READ" if self.read_at is not None else "UNREAD"

    def mark_read(self, actor: str, now: datetime) -> bool:
        """Record that the item was read (once)."""
        if self.read_at is not None:
            return False
        self._trigger(self.Read, actor, now)
        return True

    def acknowledge(self, actor: str, now: datetime) -> bool:
        """Record the acknowledgement (once; a repeat records nothing)."""
        if self.acknowledged_at is not None:
            return False
        self._trigger(self.Acknowledged, actor, now)
        return True

    def _trigger(self, event_class: type[Event], actor: str, now: datetime) -> None:
        self.trigger_event(
            event_class,
            item_id=self.item_id,
            person=self.person,
            actor=actor,
            occurred_at=now,
            timestamp=max(now, self.modified_on),
        )


class InboxCommands(AppBase):
    """Marking inbox items read and acknowledging them (only their recipient may)."""

    def mark_read(self, item_id: UUID, *, person: str, now: datetime) -> CommandResult:
        return self._receipt(item_id, person, now, acknowledge=False)

    def acknowledge(self, item_id: UUID, *, person: str, now: datetime) -> CommandResult:
        return self._receipt(item_id, person, now, acknowledge=True)

    def receipt(self, item_id: UUID) -> InboxReceipt | None:
        try:
            return self._get(InboxReceipt, receipt_id(item_id), "inbox item")
        except NotFound:
            return None

    def _receipt(
        self, item_id: UUID, person: str, now: datetime, *, acknowledge: bool
    ) -> CommandResult:
        for _ in range(3):
            receipt = self.receipt(item_id)
            if receipt is None:
                receipt = InboxReceipt.open(item_id, person, person, now)
            elif receipt.person != person:
                raise InvalidCommand(
                    "person",
                    "only the recipient may read or acknowledge an inbox item",
                    "只有收件人本人可以阅读或确认该消息",
                )
            changed = (
                receipt.acknowledge(person, now) if acknowledge else receipt.mark_read(person, now)
            )
            if not changed and not receipt.pending_events:
                return CommandResult(receipt.id, receipt.state, receipt.version, None, False)
            try:
                recordings = self.save(receipt)
            except IntegrityError:
                continue  # the same person, twice at once: look again
            return CommandResult(
                receipt.id, receipt.state, receipt.version, position_of(recordings), changed
            )
        receipt = self.receipt(item_id)
        assert receipt is not None
        return CommandResult(receipt.id, receipt.state, receipt.version, None, False)
