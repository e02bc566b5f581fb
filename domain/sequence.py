"""Gapless numbering: a counter aggregate advanced in the same transaction as what it numbers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate

from domain.ids import sequence_id


class NumberSequence(Aggregate):
    """One counter (e.g. the findings filed on one site day)."""

    class Started(Aggregate.Created):
        name: str

        def apply(self, seq: NumberSequence) -> None:
            seq.name = self.name
            seq.value = 0

    class Advanced(Aggregate.Event):
        value: int

        def apply(self, seq: NumberSequence) -> None:
            seq.value = self.value

    if TYPE_CHECKING:  # attributes set by the events (no dataclass fields)
        name: str
        value: int

    @classmethod
    def start(cls, name: str, now: datetime) -> NumberSequence:
        return cls._create(cls.Started, id=sequence_id(name), name=name, timestamp=now)

    def next(self, now: datetime) -> int:
        self.trigger_event(
            self.Advanced, value=self.value + 1, timestamp=max(now, self.modified_on)
        )
        return self.value
