"""Inboxes, the outbox and delivery on real stores, with a local SMTP server and a local
HTTP receiver (loopback only) started by the tests."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from domain.hazard import Hazard
from jobs.channels import SIGNATURE_HEADER, message_id, verify
from jobs.digest import issue_digest
from jobs.sender import Sender
from projections import notifications, outbox
from projections.base import dump
from projections.digest import daily
from safeloop.cli import cli
from safeloop.notify import build_sender
from safeloop.system import System, build_system
from tests.conftest import ORG, T0, FakeClock, drop_schema, settings_for
from tests.receivers import HttpReceiver, SmtpReceiver, http_receiver, smtp_receiver

SECRET = "webhook-secret"


@dataclass
class Rig:
    system: System
    clock: FakeClock
    http: HttpReceiver
    smtp: SmtpReceiver
    env: dict[str, str]
    sleeps: list[float]

    @property
    def app(self) -> Any:
        return self.system.app

    def sender(self, **kw: Any) -> Sender:
        sender = build_sender(self.system, sleep=self.sleeps.append)
        for key, value in kw.items():
            setattr(sender, key, value)
        return sender

    def at(self, instant: Any) -> None:
        self.clock.set(instant)
        self.system.runner.catch_up()


def channel_settings(http: HttpReceiver, smtp: SmtpReceiver) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "webhook_url": f"{http.url}/webhook",
        "webhook_secret": SECRET,
        "wecom_webhook_url": f"{http.url}/wecom",
        "dingtalk_webhook_url": f"{http.url}/dingtalk",
        "dingtalk_secret": "ding-secret",
        "feishu_webhook_url": f"{http.url}/feishu",
        "feishu_secret": "feishu-secret",
        "outbox_max_attempts": 5,
        "outbox_attempts_per_pass": 3,
    }


def notify_org() -> dict[str, Any]:
    org = copy.deepcopy(ORG)
    extra = {
        "u1": {"email": "u1@mine.test", "phone": "13800000001", "channels": ["email", "wecom"]},
        "d1": {
            "email": "d1@mine.test",
            "language": "en",
            "channels": ["email", "webhook", "dingtalk", "feishu"],
        },
        "l1": {"email": "l1@mine.test"},  # the default channels: e-mail
        "o1": {"channels": ["webhook"]},
    }
    for person in org["people"]:
        person.update(extra.get(person["id"], {}))
    return org


@pytest.fixture
def rig(store_kind: str, tmp_path: Path, clock: FakeClock) -> Iterator[Rig]:
    with http_receiver() as http, smtp_receiver() as smtp:
        settings, schema = settings_for(store_kind, tmp_path, **channel_settings(http, smtp))
        system = build_system(settings, clock=clock)
        env = {
            "SAFELOOP_DATABASE_URL": settings.database_url,
            "SAFELOOP_DATABASE_SCHEMA": settings.database_schema,
        }
        try:
            system.app.load_org(notify_org(), actor="admin", now=T0 - timedelta(days=1))
            yield Rig(system, clock, http, smtp, env, [])
        finally:
            system.close()
            if schema:
                drop_schema(schema)


def file_and_notice(rig: Rig, deadline: Any, **kw: Any) -> UUID:
    app, now = rig.app, rig.clock()
    args: dict[str, Any] = {
        "kind": "hazard",
        "description": "巷道积尘超限",
        "location": "2202运输顺槽",
        "reporter": "w1",
        "reporter_role": "worker",
        "occurred_at": now,
        "actor": "w1",
        "now": now,
    }
    args.update(kw)
    hid: UUID = app.file_hazard(**args).id
    app.screen(hid, grade="general", department="CM1", actor="o1", now=now)
    app.issue_notice(
        hid,
        responsible_person="u1",
        measures="冲尘",
        funds=Decimal("0"),
        deadline=deadline,
        contingency="撤人",
        actor="o1",
        now=now,
    )
    return hid


def kinds(rig: Rig, person: str, **kw: Any) -> list[str]:
    items, _ = notifications.inbox(rig.system.store, person, **kw)
    return [i["kind"] for i in items]


def test_inbox_and_outbox_follow_the_loop_and_a_rebuild_sends_nothing_again(rig: Rig) -> None:
    deadline = T0 + timedelta(hours=30)
    hid = file_and_notice(rig, deadline)
    rig.at(deadline - timedelta(hours=24))
    assert rig.app.tick(rig.clock()).reminded == 1
    at = deadline
    for _ in range(3):  # three missed deadlines: levels 1, 2, 3 (the case level)
        at += timedelta(hours=25)
        rig.at(at)
        assert rig.app.tick(at).renoticed == 1
    rig.system.runner.catch_up()

    # newest first; u1 is the responsible person and the unit head: one item per event
    assert kinds(rig, "u1") == ["escalation"] * 3 + ["reminder", "notice"]
    assert kinds(rig, "d1") == ["escalation"] * 3 + ["copy"]
    assert kinds(rig, "c1") == ["escalation"] * 2  # the mine chief from level 2
    assert kinds(rig, "o1") == ["case_flag"]
    d1, _ = notifications.inbox(rig.system.store, "d1")
    u1, _ = notifications.inbox(rig.system.store, "u1")
    assert d1[0]["title"].startswith("[Overdue, level 3]")  # d1 reads English
    assert u1[0]["title"].startswith("【逾期督办·3级】YH-")  # Chinese by default
    for text in (u1[0]["body"], d1[0]["body"]):
        assert "2202运输顺槽" in text and f"/items/{hid}" in text
        assert "YH-20261102-0001" in text
    assert "2026-11-07 17:00" in u1[0]["body"]  # the new deadline, in the site's time

    result = rig.sender().run_once()
    assert result.dead == result.failed == 0 and result.sent > 0
    counts = outbox.counts(rig.system.store)
    assert all(c["sent"] > 0 and c["pending"] == c["sending"] == 0 for c in counts.values())
    received = rig.http.dedup_keys() + rig.smtp.dedup_keys()
    assert len(received) == len(set(received)) == result.sent
    # e-mail to those who take it; the robots get one message per event, mentioning people
    assert {str(m["To"]) for m in rig.smtp.messages} == {
        "u1@mine.test",
        "d1@mine.test",
        "l1@mine.test",
    }
    assert all(k.split("|")[1] == "group" for k in rig.http.dedup_keys("/wecom"))

    model = rig.system.runner.projection("notifications")
    before = dump(rig.system.store, model)
    delivered = outbox.deliveries(rig.system.store, limit=1000)
    rig.system.runner.rebuild(["notifications"])
    assert dump(rig.system.store, model) == before
    assert outbox.deliveries(rig.system.store, limit=1000) == delivered
    again = rig.sender().run_once()
    assert again.sent == 0 and len(rig.http.dedup_keys() + rig.smtp.dedup_keys()) == result.sent


def test_inbox_as_of_shows_what_a_leader_had_and_had_acknowledged(rig: Rig) -> None:
    deadline = T0 + timedelta(hours=1)
    file_and_notice(rig, deadline)
    t1 = deadline + timedelta(minutes=5)
    rig.at(t1)
    rig.app.tick(t1)
    rig.system.runner.catch_up()
    escalation = notifications.inbox(rig.system.store, "l1")[0][0]
    assert escalation["kind"] == "escalation" and not escalation["acknowledged"]
    t2 = t1 + timedelta(hours=3)
    rig.at(t2)
    rig.app.acknowledge(UUID(escalation["id"]), person="l1", now=t2)
    rig.system.runner.catch_up()

    def view(instant: Any) -> list[tuple[str, bool, str | None]]:
        items, _ = notifications.inbox(rig.system.store, "l1", as_of=instant)
        return [(i["kind"], i["acknowledged"], i["acknowledged_at"]) for i in items]

    assert view(T0 - timedelta(minutes=1)) == []
    assert view(T0 + timedelta(minutes=1)) == [("copy", False, None)]
    assert view(t2 - timedelta(seconds=1)) == [("escalation", False, None), ("copy", False, None)]
    stamp = "2026-11-02T04:05:00.000000Z"
    assert view(t2) == [("escalation", True, stamp), ("copy", False, None)]
    assert view(None) == view(t2)


def test_a_receiver_failing_three_times_gets_it_and_one_always_failing_dead_letters(
    rig: Rig,
) -> None:
    rig.http.fail_first["/webhook"] = 3
    rig.http.always_fail.add("/dingtalk")
    file_and_notice(rig, T0 + timedelta(days=3))  # d1 is copied: webhook, dingtalk, ...
    rig.system.runner.catch_up()
    sender = rig.sender()
    first = sender.run_once()
    assert first.failed == 2 and rig.http.dedup_keys("/webhook") == []
    assert rig.sleeps == [0.5, 1.0, 0.5, 1.0]  # back-off between attempts within the pass
    assert sender.run_once().sent == 0  # not due again before the retry wait
    rig.clock.advance(seconds=61)
    second = sender.run_once()
    assert second.sent == 1 and second.dead == 1
    assert len(rig.http.dedup_keys("/webhook")) == 1 and rig.http.failures["/webhook"] == 3
    rows = outbox.deliveries(rig.system.store, state="dead")
    assert [r["channel"] for r in rows] == ["dingtalk"] and rows[0]["attempts"] == 5
    assert "HTTP 500" in rows[0]["last_error"]

    runner = CliRunner()
    status = runner.invoke(cli, ["outbox", "status"], env=rig.env)
    assert status.exit_code == 0, status.output
    assert "dead letters" in status.output and rows[0]["dedup_key"] in status.output
    assert "HTTP 500" in status.output
    retried = runner.invoke(cli, ["outbox", "retry"], env=rig.env)
    assert retried.exit_code == 0 and "1 delivery(ies) queued again" in retried.output
    rig.http.always_fail.clear()
    rig.clock.set(datetime.now(UTC) + timedelta(seconds=1))  # the CLI retried on the real clock
    assert sender.run_once().sent == 1
    assert outbox.counts(rig.system.store)["dingtalk"]["sent"] == 1


def test_channel_formats_signatures_and_dedup_headers(rig: Rig) -> None:
    file_and_notice(rig, T0 + timedelta(days=3))
    rig.system.runner.catch_up()
    rig.sender().run_once()
    by_path = {r.path.split("?")[0]: r for r in rig.http.received}
    now = int(rig.clock().timestamp())

    hook = by_path["/webhook"]
    assert verify(SECRET, hook.body, hook.headers[SIGNATURE_HEADER.lower()], now=now)
    assert not verify("wrong", hook.body, hook.headers[SIGNATURE_HEADER.lower()], now=now)
    assert hook.json["dedup_key"] == hook.key == hook.headers["idempotency-key"]
    assert hook.json["recipient"] == "d1" and hook.json["title"].startswith("[Copy")

    wecom = by_path["/wecom"].json
    assert wecom["msgtype"] == "text" and wecom["text"]["mentioned_mobile_list"] == ["13800000001"]
    assert "【整改通知】" in wecom["text"]["content"]

    ding = by_path["/dingtalk"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(ding.path).query)
    stamp = query["timestamp"][0]
    expected = base64.b64encode(
        hmac.new(b"ding-secret", f"{stamp}\nding-secret".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"][0] == expected and ding.json["msgtype"] == "text"

    feishu = by_path["/feishu"].json
    key = f"{feishu['timestamp']}\nfeishu-secret".encode()
    assert feishu["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert feishu["msg_type"] == "text" and "YH-20261102-0001" in feishu["content"]["text"]

    mail = next(m for m in rig.smtp.messages if str(m["To"]) == "d1@mine.test")
    key = str(mail["X-Safeloop-Dedup-Key"])
    assert key.endswith("|d1|email") and str(mail["Message-ID"]) == message_id(key)
    assert str(mail["Subject"]).startswith("[Copy: rectification notice] YH-20261102-0001")


def test_digest_days_are_site_days_across_midnight_and_a_utc_date_change(rig: Rig) -> None:
    zone = rig.system.policy.zone
    # 15:50 UTC = 23:50 on the 2nd in Shanghai; 16:10 UTC = 00:10 on the 3rd;
    # 23:50 UTC on the 2nd = 07:50 on the 3rd (the UTC date is still the 2nd)
    times = [T0 + timedelta(hours=15, minutes=50), T0 + timedelta(hours=16, minutes=10)]
    times.append(T0 + timedelta(hours=23, minutes=50))
    ids = []
    places = [("1301回风顺槽", "巷道积尘超限")] * 2 + [("1301 回风顺槽", "巷道积尘 超限！")]
    for when, (place, description) in zip(times, places, strict=True):
        rig.at(when)
        ids.append(
            file_and_notice(rig, when + timedelta(hours=1), location=place, description=description)
        )
    rig.at(times[0] + timedelta(hours=1, minutes=5))  # the first misses its deadline on the 3rd
    rig.app.tick(rig.clock())
    rig.at(T0 + timedelta(days=1, hours=15))  # 23:00 on the 3rd: the second is closed
    rig.app.submit(ids[1], evidence=["照片"], note="", actor="u1", now=rig.clock())
    rig.app.recheck(ids[1], passed=True, note="", actor="a1", now=rig.clock())
    rig.at(T0 + timedelta(days=2))
    rig.app.tick(rig.clock())  # the third is overdue (its first deadline passed on the 3rd)
    rig.at(rig.clock() + timedelta(minutes=1))

    def day(d: str) -> dict[str, Any]:
        return daily(rig.system.store, T0.date().fromisoformat(d), zone=zone, now=rig.clock())

    second, third = day("2026-11-02"), day("2026-11-03")
    assert second["from"] == "2026-11-01T16:00:00.000000Z"
    assert second["new_findings"]["by_department"] == {"CM1": {"general": 1}}
    assert third["new_findings"]["total"] == 2 and third["closed"]["by_department"] == {"CM1": 1}
    assert second["overdue"]["total"] == 0
    # at the end of the 3rd: the first overdue at level 1, the third not yet ticked
    assert third["overdue"] == {"total": 1, "by_level": {"1": 1}}
    assert [o["id"] for o in third["overdue_longest"]] == [str(ids[0])]
    fourth = day("2026-11-04")
    assert fourth["overdue"]["total"] == 2
    assert [o["id"] for o in fourth["overdue_longest"]] == [str(ids[0]), str(ids[2])]
    (repeat,) = third["repeats"]  # the same place (spaces aside) and category
    assert (repeat["location"], repeat["category"], repeat["count"], repeat["on_day"]) == (
        "1301 回风顺槽",
        "hazard:巷道积尘超限",
        3,
        2,
    )

    rig.at(T0 + timedelta(days=2, hours=1))
    assert issue_digest(rig.app, rig.system.store, T0.date() + timedelta(days=1), rig.clock())
    assert (
        issue_digest(rig.app, rig.system.store, T0.date() + timedelta(days=1), rig.clock()) is None
    )
    rig.system.runner.catch_up()
    items, _ = notifications.inbox(rig.system.store, "o1")
    assert items[0]["kind"] == "digest" and items[0]["title"] == (
        "【安全信息日报】2026-11-03：新增 2 项，关闭 1 项，逾期 1 项"
    )
    opinion = next(
        e for e in rig.app.hazard_events(ids[0]) if isinstance(e, Hazard.HandlingOpinionIssued)
    )
    assert opinion.issued_on == "2026-11-03"  # "the same day" is the site day


def test_two_senders_at_once_deliver_each_key_once(rig: Rig, clock: FakeClock) -> None:
    for i in range(20):
        file_and_notice(rig, T0 + timedelta(days=3), client_ref=f"c-{i}")
    rig.system.runner.catch_up()
    other = build_system(rig.system.settings, clock=clock)
    try:
        senders = [rig.sender(batch_size=7), build_sender(other, sleep=rig.sleeps.append)]
        senders[1].batch_size = 7
        import threading

        results: list[Any] = []
        threads = [
            threading.Thread(target=lambda s=s: results.append(s.run_once())) for s in senders
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.close()
    received = rig.http.dedup_keys() + rig.smtp.dedup_keys()
    assert Counter(received).most_common(1)[0][1] == 1
    total = sum(sum(c.values()) for c in outbox.counts(rig.system.store).values())
    assert len(received) == total == sum(r.sent for r in results)


class SlowChannel:
    """A receiver that takes a simulated minute per message (the clock is moved by it)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[str] = []

    def send(self, message: Any, now: Any) -> None:
        self.clock.advance(minutes=1)
        self.sent.append(message.dedup_key)


def test_a_slow_pass_gives_back_its_claims_before_they_lapse(rig: Rig) -> None:
    for i in range(4):
        file_and_notice(rig, T0 + timedelta(days=3), client_ref=f"s-{i}")
    rig.system.runner.catch_up()
    sender = rig.sender(lease=timedelta(minutes=5))
    slow = SlowChannel(rig.clock)
    sender.channels = {name: slow for name in sender.channels}
    first = sender.run_once()
    assert first.sent == 3 and first.released > 0  # 3 simulated minutes > half of 5
    pending = outbox.deliveries(rig.system.store, state="pending", limit=100)
    assert len(pending) == first.released
    while sender.run_once().sent:
        pass
    assert len(slow.sent) == len(set(slow.sent)) == first.sent + first.released
