"""Wiring of the notification side: channels from the settings, the sender, the lease and
the scheduler (used by ``safeloop serve``, ``safeloop scheduler`` and ``safeloop outbox``)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from pydantic import SecretStr

from jobs.channels import ChannelConfig
from jobs.lease import AdvisoryLease, AlwaysHeld, Lease
from jobs.scheduler import make_scheduler
from jobs.sender import Sender
from projections import outbox
from safeloop.settings import Settings

if TYPE_CHECKING:  # system.py imports this module
    from safeloop.system import System


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def channel_config(settings: Settings) -> ChannelConfig:
    return ChannelConfig(
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_user=settings.smtp_user,
        smtp_password=_secret(settings.smtp_password),
        smtp_from=settings.smtp_from,
        smtp_starttls=settings.smtp_starttls,
        smtp_ssl=settings.smtp_ssl,
        wecom_url=_secret(settings.wecom_webhook_url),
        dingtalk_url=_secret(settings.dingtalk_webhook_url),
        dingtalk_secret=_secret(settings.dingtalk_secret),
        feishu_url=_secret(settings.feishu_webhook_url),
        feishu_secret=_secret(settings.feishu_secret),
        webhook_url=settings.webhook_url,
        webhook_secret=_secret(settings.webhook_secret),
        timeout=settings.notify_timeout_seconds,
    )


def default_channels(settings: Settings) -> list[str]:
    return [c.strip() for c in settings.notify_default_channels.split(",") if c.strip()]


def build_sender(
    system: System, *, sleep: Callable[[float], None] | None = None, owner: str | None = None
) -> Sender:
    s = system.settings
    return Sender(
        system.store,
        channel_config(s).channels(),
        system.clock,
        batch_size=s.outbox_batch_size,
        lease=timedelta(seconds=s.outbox_lease_seconds),
        max_attempts=s.outbox_max_attempts,
        attempts_per_pass=s.outbox_attempts_per_pass,
        retry_base=timedelta(seconds=s.outbox_retry_seconds),
        max_age=timedelta(hours=s.outbox_max_age_hours),
        owner=owner,
        sleep=sleep or time.sleep,
    )


def build_lease(system: System) -> Lease:
    db = system.settings.database
    if db.kind != "postgres" or not system.settings.scheduler_lease:
        return AlwaysHeld()
    from safeloop.system import pg_conninfo

    return AdvisoryLease(pg_conninfo(db), f"{db.dbname}:{system.settings.database_schema}")


def build_scheduler(
    system: System, *, blocking: bool = False
) -> BackgroundScheduler | BlockingScheduler:
    s = system.settings
    return make_scheduler(
        system.app,
        system.clock,
        s.tick_interval_seconds,
        store=system.store,
        sender=build_sender(system),
        outbox_interval_seconds=s.outbox_interval_seconds,
        digest_time=s.digest_time,
        lease=build_lease(system),
        blocking=blocking,
    )


# -- operations (the CLI calls these) ----------------------------------------------------------


def run_scheduler(system: System, echo: Callable[[str], object] = print) -> None:
    """Run the jobs in the foreground until SIGTERM or Ctrl-C (``safeloop scheduler``)."""
    scheduler = build_scheduler(system, blocking=True)

    def stop(signum: int, _frame: object) -> None:
        echo(f"received signal {signum}; stopping the scheduler")
        scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    system.runner.catch_up()  # so the first tick reads a current deadline index
    system.runner.start()
    s = system.settings
    channels = ", ".join(channel_config(s).enabled()) or "in-app only"
    echo(
        f"scheduler: tick every {s.tick_interval_seconds}s, outbox every"
        f" {s.outbox_interval_seconds}s, digest at {s.digest_time:%H:%M}"
        f" ({system.policy.timezone}); channels: {channels}"
    )
    try:
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        system.close()


def outbox_status_lines(system: System, *, dead_limit: int = 20) -> list[str]:
    counts = outbox.counts(system.store)
    lines = [f"{'channel':<10}" + "".join(f"{state:>9}" for state in outbox.STATES)]
    if not counts:
        lines.append("(no deliveries)")
    for channel, by_state in counts.items():
        lines.append(f"{channel:<10}" + "".join(f"{by_state[s]:>9}" for s in outbox.STATES))
    dead = outbox.deliveries(system.store, state="dead", limit=dead_limit)
    if dead:
        lines += ["", "dead letters (safeloop outbox retry [KEY ...] puts them back):"]
        for d in dead:
            to = d["address"] or d["recipient"] or "-"
            lines.append(
                f"  {d['dedup_key']}  {d['channel']}  to {to}  attempts {d['attempts']}"
                f"  last error: {d['last_error'] or '-'}"
            )
    return lines
