"""The web server: the system, its HTTP app and (optionally) the scheduler, in one process."""

from __future__ import annotations

from fastapi import FastAPI

from api import Services, create_app
from jobs.scheduler import make_scheduler
from safeloop.system import System


def services_for(system: System, *, with_scheduler: bool) -> Services:
    settings = system.settings
    services = Services(
        app=system.app,
        store=system.store,
        runner=system.runner,
        clock=system.clock,
        policy=system.policy,
        admin_token=settings.admin_token.get_secret_value() if settings.admin_token else None,
        read_your_writes_timeout=settings.read_your_writes_timeout,
        max_body_bytes=settings.max_body_bytes,
        late_entry_hours=settings.late_entry_hours,
    )
    services.on_start.append(system.runner.start)
    services.on_stop.append(system.close)
    if with_scheduler:
        scheduler = make_scheduler(system.app, system.clock, settings.tick_interval_seconds)
        services.on_start.append(scheduler.start)
        services.on_stop.append(lambda: scheduler.shutdown(wait=True))
    return services


def web_app(system: System, *, with_scheduler: bool) -> FastAPI:
    return create_app(services_for(system, with_scheduler=with_scheduler))
