"""Findings raised by the system itself (a checklist line marked "not ok", a lapsed certificate
on site): numbered like any filing, and saved in the same transaction as the event that
raises them, so there is never a cause without its finding or a finding twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.app_base import AppBase
from domain.errors import Contention, NotFound
from domain.hazard import Hazard
from domain.ids import sequence_id
from domain.sequence import NumberSequence

NUMBER_PREFIX = {"hazard": "YH", "violation": "SW", "problem": "WT"}
#: day counters kept in memory (today's, and yesterday's for filings dated just before midnight)
KEPT_COUNTERS = 4


class FindingCommands(AppBase):
    """Numbering and saving findings together with what raised them."""

    _numbering: threading.Lock
    #: the counters this process saved last, by name (see ``_sequence``)
    _counters: dict[str, NumberSequence]

    def _sequence(self, name: str, now: datetime) -> NumberSequence:
        """The counter ``name``, to advance and save while holding ``_numbering``.

        The one this process saved last is kept in memory (``_counter_saved``) instead of
        being loaded for every filing. It is taken out while in use, so a counter advanced for
        a save that then failed is never used again. If another process advanced the counter
        meanwhile, the save conflicts (its version is taken) and the retry loads it afresh:
        the store's optimistic concurrency still decides every number.
        """
        kept = self._counters.pop(name, None)
        if kept is not None:
            return kept
        try:
            return self._get(NumberSequence, sequence_id(name), "sequence")
        except NotFound:
            return NumberSequence.start(name, now)

    def _counter_saved(self, *sequences: NumberSequence) -> None:
        """Keep counters just saved (or used unchanged) for the next filing in this process."""
        for sequence in sequences:
            if not sequence.pending_events:
                self._counters[sequence.name] = sequence
        while len(self._counters) > KEPT_COUNTERS:
            del self._counters[next(iter(self._counters))]

    def _day_sequence(self, now: datetime) -> NumberSequence:
        return self._sequence(f"hazard:{self.policy.local_date(now):%Y%m%d}", now)

    def _number(self, sequence: NumberSequence, kind: str, now: datetime) -> str:
        """The next number of the day's counter (advancing it)."""
        return self._format_number(kind, now, sequence.next(now))

    def _format_number(self, kind: str, now: datetime, n: int) -> str:
        day = f"{self.policy.local_date(now):%Y%m%d}"
        return f"{NUMBER_PREFIX.get(kind, 'YH')}-{day}-{n:04d}"

    def _new_finding(
        self,
        sequence: NumberSequence,
        *,
        hazard_id: UUID,
        kind: str,
        description: str,
        location: str,
        reporter: str,
        reporter_role: str,
        occurred_at: datetime,
        department: str | None,
        client_ref: str | None,
        source: dict[str, Any] | None,
        actor: str,
        now: datetime,
    ) -> Hazard:
        hazard = Hazard.report(
            hazard_id=hazard_id,
            number=self._number(sequence, kind, now),
            kind=kind,
            description=description,
            location=location,
            reporter=reporter,
            reporter_role=reporter_role,
            occurred_at=min(occurred_at, now),
            department=department,
            client_ref=client_ref,
            actor=actor,
            now=now,
        )
        if source is not None:
            hazard.link(source=source, actor=actor, now=now)
        return hazard

    def _save_with_findings(
        self,
        build: Callable[[NumberSequence], Sequence[Aggregate]],
        *,
        now: datetime,
        attempts: int = 20,
    ) -> list[Recording[UUID]] | None:
        """Save what ``build`` makes (numbering its findings from the day's sequence).

        ``build`` looks at the aggregate whose event raises the findings: when that already
        holds the event (a rerun, another process), it returns nothing and this returns None.
        The counter moving under us is retried after a short pause (the repository brings a
        cached aggregate up to date on the next ``get``).
        """
        for attempt in range(attempts):
            with self._numbering:
                sequence = self._day_sequence(now)
                aggregates = list(build(sequence))
                if not aggregates:
                    return None
                extra = [sequence] if sequence.pending_events and sequence.value > 0 else []
                try:
                    recordings = self.save(*aggregates, *extra)
                except IntegrityError:
                    if attempt == attempts - 1:
                        break
                else:
                    self._counter_saved(sequence)
                    return recordings
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise Contention()
