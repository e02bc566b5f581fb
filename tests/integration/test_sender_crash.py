"""The sender killed mid-batch (SIGKILL, in its own process) and restarted loses nothing,
and sends nothing twice except the one message in flight, which carries the same dedup
key so the receiver can drop it."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from datetime import timedelta

from projections import outbox
from tests.conftest import T0
from tests.integration.sender_child import run_sender
from tests.integration.test_notify import Rig, file_and_notice
from tests.integration.test_notify import rig as rig  # the fixture


def test_a_sender_killed_mid_batch_and_restarted_loses_nothing(rig: Rig) -> None:
    for i in range(12):
        file_and_notice(rig, T0 + timedelta(days=3), client_ref=f"k-{i}")
    rig.system.runner.catch_up()
    expected = {d["dedup_key"] for d in outbox.deliveries(rig.system.store, limit=1000)}
    http_expected = {k for k in expected if not k.endswith("|email")}
    assert len(http_expected) > 10

    rig.http.hold_after = 5  # the 6th webhook/robot request hangs until released
    now = rig.clock()
    child = multiprocessing.get_context("spawn").Process(
        target=run_sender, args=(rig.system.settings, now.isoformat())
    )
    child.start()
    try:
        assert rig.http.held.wait(120), "the sender never reached the receiver"
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    in_flight = rig.http.dedup_keys()[-1]
    counts = outbox.counts(rig.system.store)
    assert sum(c["sending"] for c in counts.values()) > 0  # claimed, then abandoned
    assert sum(c["sent"] for c in counts.values()) >= 5
    rig.http.release.set()
    rig.http.hold_after = None

    # Restarted (a new sender, no memory of the old one): the old claims lapse after the lease.
    restarted = rig.sender()
    rig.clock.set(now + timedelta(seconds=10))
    assert restarted.run_once().sent == 0  # claims still held by the dead sender
    rig.clock.set(now + restarted.lease + timedelta(seconds=1))
    restarted.run_once()

    counts = outbox.counts(rig.system.store)
    assert all(c["sent"] == sum(c.values()) for c in counts.values()), counts
    received = Counter(rig.http.dedup_keys() + rig.smtp.dedup_keys())
    assert set(received) == expected  # nothing lost
    repeated = [k for k, n in received.items() if n > 1]
    assert repeated == [in_flight]  # only the one in flight, again, under the same key
