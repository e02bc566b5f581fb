"""Whole-store checks after a fault: nothing half-written, read models equal a rebuild."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.hazard import Hazard
from domain.sequence import NumberSequence
from projections.base import dump
from safeloop.system import System


def log_events(system: System) -> list[tuple[int, Any]]:
    """Every event in the log with its position."""
    events: list[tuple[int, Any]] = []
    start = 1
    while True:
        batch = system.app.recorder.select_notifications(start=start, limit=1000)
        if not batch:
            return events
        events += [(n.id, system.app.mapper.to_domain_event(n)) for n in batch]
        start = batch[-1].id + 1


def count_events(system: System, event_class: type) -> int:
    """How many events of one class the log holds (notification ids may have gaps)."""
    topic = get_topic(event_class)
    count, start = 0, 1
    while True:
        batch = system.app.recorder.select_notifications(start=start, limit=5000, topics=[topic])
        if not batch:
            return count
        count += len(batch)
        start = batch[-1].id + 1


def assert_nothing_half_written(system: System) -> dict[UUID, Hazard.Reported]:
    """Each finding has its number from the day's counter and each step of a counter has its
    finding: per site day the numbers are exactly 1..counter, none twice, none missing.
    Returns the findings' Reported events by id."""
    reported: dict[UUID, Hazard.Reported] = {}
    versions: dict[UUID, list[int]] = defaultdict(list)
    names: dict[UUID, str] = {}
    values: dict[UUID, int] = defaultdict(int)
    for _, event in log_events(system):
        if isinstance(event, Hazard.Event):
            versions[event.originator_id].append(event.originator_version)
        if isinstance(event, Hazard.Reported):
            reported[event.originator_id] = event
        elif isinstance(event, NumberSequence.Started):
            names[event.originator_id] = event.name
        elif isinstance(event, NumberSequence.Advanced):
            values[event.originator_id] = max(values[event.originator_id], event.value)
    counters = {names[key]: value for key, value in values.items()}
    for hazard_id, seen in versions.items():
        assert hazard_id in reported, f"events of {hazard_id} without its Reported event"
        assert seen == list(range(1, len(seen) + 1)), f"{hazard_id} has versions {seen}"
    numbers: dict[str, list[int]] = defaultdict(list)
    for event in reported.values():
        _, day, seq = event.number.split("-")
        numbers[f"hazard:{day}"].append(int(seq))
    assert set(numbers) == {name for name, value in counters.items() if value}, (
        set(numbers),
        counters,
    )
    for name, seqs in numbers.items():
        assert sorted(seqs) == list(range(1, counters[name] + 1)), (
            f"{name}: counter at {counters[name]}, numbers {sorted(seqs)[:5]}... ({len(seqs)})"
        )
    return reported


def assert_read_models_equal_a_rebuild(system: System) -> None:
    """Catch up, then rebuild every read model from zero: the tables must be identical."""
    system.runner.catch_up()
    head = system.app.head()
    for status in system.runner.status():
        assert status.position == head, status
    before = {p.name: dump(system.store, p) for p in system.runner.projections}
    system.runner.rebuild()
    after = {p.name: dump(system.store, p) for p in system.runner.projections}
    for name, tables in before.items():
        for table, rows in tables.items():
            assert after[name][table] == rows, f"{name}.{table} differs from its rebuild"
