"""A simulated day of one-minute ticks over 1,000 items with mixed deadlines, run by two
schedulers at once (two systems over one store, driven by the injected clock): exactly one
re-notice per overdue period, and every due notification delivered once per dedup key."""

from __future__ import annotations

import copy
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.hazard import Hazard
from jobs.sender import Sender
from projections import outbox
from projections.notifications import dedup_key
from safeloop.notify import build_sender
from safeloop.system import System, build_system
from tests.conftest import ORG, T0, FakeClock, drop_schema, settings_for
from tests.receivers import http_receiver, smtp_receiver

ITEMS = 1000
MINUTES = 24 * 60
RENOTICE_HOURS = 10
#: the read models and the sender run beside the tick in production; here each scheduler
#: catches up and sends every few simulated minutes (a tick reading a read model that is a
#: little behind is harmless: the aggregates decide)
CATCH_UP_EVERY = 5
SEND_EVERY = 10


@dataclass
class Plan:
    deadline: datetime
    submit_at: datetime | None
    ids: list[UUID] = field(default_factory=list)


def expected_periods(deadline: datetime, submit_at: datetime | None) -> int:
    """The rule, stated independently: at each minute's tick, after that minute's
    submissions, a running deadline that has passed gets one re-notice, and the new
    deadline is the tick's time plus the re-notice hours."""
    periods = 0
    for k in range(MINUTES + 1):
        t = T0 + timedelta(minutes=k)
        if submit_at is not None and submit_at <= t:
            break
        if t > deadline:
            periods += 1
            deadline = t + timedelta(hours=RENOTICE_HOURS)
    return periods


@pytest.fixture
def day_store(store_kind: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"renotice_hours: {RENOTICE_HOURS}\nreminder_offsets_hours: [24, 2]\n")
    with http_receiver() as http, smtp_receiver() as smtp:
        settings, schema = settings_for(
            store_kind,
            tmp_path,
            policy_file=policy,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            webhook_url=f"{http.url}/webhook",
            notify_default_channels="",
            outbox_batch_size=500,
        )
        try:
            yield {"settings": settings, "http": http, "smtp": smtp}
        finally:
            if schema:
                drop_schema(schema)


def day_org() -> dict[str, Any]:
    org = copy.deepcopy(ORG)
    for person in org["people"]:
        if person["id"] == "d1":  # deputy chief of CM1: e-mail
            person.update(email="d1@mine.test", channels=["email"])
        if person["id"] == "d2":  # deputy chief of TF: the webhook
            person.update(channels=["webhook"])
    return org


def test_a_day_of_minute_ticks_by_two_schedulers(day_store: dict[str, Any]) -> None:
    clock = FakeClock(T0 - timedelta(hours=1))
    settings = day_store["settings"]
    one, two = build_system(settings, clock=clock), build_system(settings, clock=clock)
    try:
        run_day(one, two, clock, day_store)
    finally:
        one.close()
        two.close()


def run_day(one: System, two: System, clock: FakeClock, rig: dict[str, Any]) -> None:
    app = one.app
    now = clock()
    app.load_org(day_org(), actor="admin", now=now - timedelta(minutes=1))
    rng = random.Random(4)
    plans: dict[UUID, Plan] = {}
    for i in range(ITEMS):
        deadline = T0 + timedelta(minutes=rng.randint(5, 30 * 60))
        submit_at = None
        if rng.random() < 0.2:  # some are done in time, some late, most not at all
            submit_at = T0 + timedelta(minutes=rng.randint(1, MINUTES))
        hid = app.file_hazard(
            kind="hazard",
            description=f"隐患 {i}",
            location=f"巷道 {i % 37}",
            reporter="w1",
            reporter_role="worker",
            occurred_at=now,
            actor="w1",
            now=now,
        ).id
        department = "CM1" if i % 2 else "TF"
        app.screen(hid, grade="general", department=department, actor="o1", now=now)
        app.issue_notice(
            hid,
            responsible_person="u1" if department == "CM1" else "u2",
            measures="整改",
            funds=Decimal("0"),
            deadline=deadline,
            contingency="撤人",
            actor="o1",
            now=now,
        )
        plans[hid] = Plan(deadline, submit_at)
    submissions: dict[datetime, list[UUID]] = defaultdict(list)
    for hid, plan in plans.items():
        if plan.submit_at is not None:
            submissions[plan.submit_at].append(hid)
    one.runner.catch_up()

    senders: list[Sender] = [build_sender(s, sleep=lambda _: None) for s in (one, two)]
    start, done = threading.Barrier(3), threading.Barrier(3)
    errors: list[BaseException] = []
    results: list[list[Any]] = [[], []]

    def scheduler(n: int, system: System) -> None:
        for k in range(MINUTES + 1):
            start.wait()
            try:
                results[n].append(system.app.tick(clock()))
                if k % CATCH_UP_EVERY == n:
                    system.runner.catch_up()
                if k % SEND_EVERY in (n, n + 1):
                    senders[n].run_once()
            except BaseException as e:  # collected and asserted below
                errors.append(e)
            done.wait()

    threads = [threading.Thread(target=scheduler, args=(n, s)) for n, s in enumerate((one, two))]
    for t in threads:
        t.start()
    for k in range(MINUTES + 1):
        t = T0 + timedelta(minutes=k)
        clock.set(t)
        for hid in submissions.get(t, []):
            app.submit(hid, evidence=["照片"], note="", actor="u1", now=t)
        start.wait()
        done.wait()
    for t in threads:
        t.join()
    assert not errors, errors[:3]

    one.runner.catch_up()
    for sender in senders:  # anything written by the last tick
        sender.run_once()

    renoticed = 0
    due: set[str] = set()  # every notification due by e-mail or webhook, from the events alone
    for hid, plan in plans.items():
        events = app.hazard_events(hid)
        due |= due_deliveries(hid, events)
        periods = [e.period for e in events if isinstance(e, Hazard.ReNoticed)]
        opinions = [e.period for e in events if isinstance(e, Hazard.HandlingOpinionIssued)]
        expected = expected_periods(plan.deadline, plan.submit_at)
        assert periods == opinions == list(range(1, expected + 1)), (hid, plan)
        renoticed += expected
        reminders = [
            (e.deadline, e.offset_hours) for e in events if isinstance(e, Hazard.ReminderIssued)
        ]
        assert len(reminders) == len(set(reminders)), "a reminder twice for one deadline"
    ticks = [r for rs in results for r in rs]
    assert sum(r.renoticed for r in ticks) == renoticed > ITEMS // 2
    assert sum(r.conflicts for r in ticks) >= 0  # the loser of a race just moves on

    counts = outbox.counts(one.store)
    deliveries = outbox.deliveries(one.store, limit=1_000_000)
    assert {d["state"] for d in deliveries} == {"sent"}, counts
    received = Counter(rig["http"].dedup_keys() + rig["smtp"].dedup_keys())
    assert set(received) == {d["dedup_key"] for d in deliveries}
    assert set(received) == due, (len(due - set(received)), len(set(received) - due))
    assert max(received.values()) == 1  # none twice under one key
    assert counts["email"]["sent"] > ITEMS // 2 and counts["webhook"]["sent"] > ITEMS // 2


#: the people day_org gives a channel (everyone else is told in the app only)
CHANNELS = {"d1": "email", "d2": "webhook"}


def due_deliveries(hid: UUID, events: list[Hazard.Event]) -> set[str]:
    """The dedup keys (event, recipient, channel) of the e-mails and webhooks an item's events
    call for, stated independently of the notifications read model: a notice tells the
    responsible person, the unit head and its copies; a re-notice the same owners and its
    copies; a reminder its recipients."""
    keys: set[str] = set()
    owners: set[str] = set()
    for e in events:
        told: set[str] = set()
        if isinstance(e, Hazard.NoticeIssued):
            owners = {e.responsible_person, *([e.unit_head] if e.unit_head else [])}
            told = owners | set(e.copies)
        elif isinstance(e, Hazard.ReNoticed):
            told = owners | set(e.copies)
        elif isinstance(e, Hazard.ReminderIssued):
            told = set(e.recipients)
        event_key = f"{hid}:{e.originator_version}"
        keys |= {dedup_key(event_key, p, CHANNELS[p]) for p in told & CHANNELS.keys()}
    return keys
