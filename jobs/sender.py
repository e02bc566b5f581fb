"""The outbox sender: claims due deliveries, sends each, records the outcome at once.

At-least-once: a delivery is recorded ``sent`` right after its receiver accepted it, in its
own transaction. A sender killed between the two leaves that one message claimed; once
the claim lapses (``lease``) another sender (or the restarted one) sends it again, with the
same dedup key, so a receiver that keeps the keys it has seen drops the repeat. Nothing
else can be sent twice: a claim is taken in one transaction (``SKIP LOCKED`` on PostgreSQL)
and an outcome is only recorded while its claim is held; a pass that runs past half the
lease (a slow receiver) gives its remaining claims back unsent rather than let them lapse.

Retries: within one pass, a failing message is retried a few times with exponential
back-off (tenacity); if it still fails it waits for a later pass (doubling from
``retry_base``, at most ``retry_cap``), and after ``max_attempts`` attempts in all it is
dead-lettered (``safeloop outbox status`` shows it; ``safeloop outbox retry`` revives it).
A delivery that has waited longer than ``max_age`` since it fell due is skipped, not sent
(e.g. the history of a store that had no channels configured); one put back by
``safeloop outbox retry`` falls due again when it is retried.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from jobs.channels import Channel, DeliveryError
from projections import outbox
from projections.outbox import Message
from projections.store import ViewStore
from projections.timefmt import parse

log = logging.getLogger("safeloop.outbox")


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0
    #: claimed but given back unsent (the pass ran past half the claim's lease)
    released: int = 0
    keys_sent: list[str] = field(default_factory=list)


class Sender:
    def __init__(
        self,
        store: ViewStore,
        channels: Mapping[str, Channel],
        clock: Callable[[], datetime],
        *,
        batch_size: int = 100,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 8,
        attempts_per_pass: int = 3,
        retry_base: timedelta = timedelta(minutes=1),
        retry_cap: timedelta = timedelta(hours=1),
        max_age: timedelta = timedelta(hours=48),
        sleep: Callable[[float], None] = time.sleep,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.clock = clock
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max(1, max_attempts)
        self.attempts_per_pass = max(1, attempts_per_pass)
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.max_age = max_age
        self.sleep = sleep
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def run_once(self, max_batches: int = 50) -> SendResult:
        """One pass: claim and send due deliveries, a batch at a time, until none is due."""
        result = SendResult()
        for _ in range(max_batches):
            now = self.clock()
            messages, missing = outbox.claim(
                self.store, now=now, owner=self.owner, lease=self.lease, limit=self.batch_size
            )
            if missing:  # the read model is being rebuilt: try these again shortly
                outbox.release(
                    self.store, missing, owner=self.owner, retry_at=now + timedelta(seconds=30)
                )
            for i, message in enumerate(messages):
                if self.clock() - now > self.lease / 2:
                    # A slow receiver: give the rest back before the claims could lapse and
                    # another sender take (and send) them while this one still might.
                    rest = [m.dedup_key for m in messages[i:]]
                    outbox.release(self.store, rest, owner=self.owner, retry_at=self.clock())
                    result.released += len(rest)
                    return self._log(result)
                self._deliver(message, result)
            if len(messages) + len(missing) < self.batch_size:
                break
        return self._log(result)

    def _log(self, result: SendResult) -> SendResult:
        if result.sent or result.failed or result.dead or result.released:
            log.info(
                "outbox pass",
                extra={
                    "sent": result.sent,
                    "failed": result.failed,
                    "dead": result.dead,
                    "skipped": result.skipped,
                    "released": result.released,
                },
            )
        return result

    def _deliver(self, message: Message, result: SendResult) -> None:
        now = self.clock()
        channel = self.channels.get(message.channel)
        due = parse(message.due_at)
        reason = None
        if channel is None:
            reason = f"channel {message.channel!r} is not configured"
        elif due is not None and now - due > self.max_age:
            reason = f"waited longer than {self.max_age} since it fell due; not sent"
        if reason is not None or channel is None:
            self._finish(message, "skipped", message.attempts, error=reason)
            result.skipped += 1
            return
        allowed = min(self.attempts_per_pass, self.max_attempts - message.attempts)
        tried = 0
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(max(1, allowed)),
                wait=wait_exponential(multiplier=0.5, max=5),
                retry=retry_if_exception_type(DeliveryError),
                sleep=self.sleep,
                reraise=True,
            ):
                with attempt:
                    tried += 1
                    channel.send(message, self.clock())
        except DeliveryError as error:
            attempts = message.attempts + tried
            if attempts >= self.max_attempts:
                self._finish(message, "dead", attempts, error=str(error))
                result.dead += 1
                log.warning(
                    "outbox: dead-lettered",
                    extra={"key": message.dedup_key, "attempts": attempts, "error": str(error)},
                )
            else:
                rounds = max(1, attempts // self.attempts_per_pass)
                delay = min(self.retry_cap, self.retry_base * 2 ** (rounds - 1))
                self._finish(
                    message,
                    "pending",
                    attempts,
                    error=str(error),
                    next_attempt_at=self.clock() + delay,
                )
                result.failed += 1
            return
        self._finish(message, "sent", message.attempts + tried)
        result.sent += 1
        result.keys_sent.append(message.dedup_key)

    def _finish(
        self,
        message: Message,
        state: str,
        attempts: int,
        *,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        held = outbox.finish(
            self.store,
            message.dedup_key,
            owner=self.owner,
            state=state,
            attempts=attempts,
            now=self.clock(),
            next_attempt_at=next_attempt_at,
            error=error,
        )
        if not held:
            log.warning(
                "outbox: the claim lapsed before the outcome was recorded",
                extra={"key": message.dedup_key, "state": state},
            )
