"""The web server: the system, its HTTP app and (optionally) the scheduler, in one process."""

from __future__ import annotations

from fastapi import FastAPI

from api import Services, create_app
from api.services import OidcConfig, WebConfig
from jobs.scheduler import make_scheduler
from safeloop.settings import Settings
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
        web=web_config(settings),
    )
    services.on_start.append(system.runner.start)
    services.on_stop.append(system.close)
    if with_scheduler:
        scheduler = make_scheduler(system.app, system.clock, settings.tick_interval_seconds)
        services.on_start.append(scheduler.start)
        services.on_stop.append(lambda: scheduler.shutdown(wait=True))
    return services


def web_config(settings: Settings) -> WebConfig:
    oidc = None
    if settings.oidc_issuer:
        if not settings.oidc_client_id:
            raise ValueError("SAFELOOP_OIDC_ISSUER needs SAFELOOP_OIDC_CLIENT_ID")
        oidc = OidcConfig(
            issuer=settings.oidc_issuer.rstrip("/"),
            client_id=settings.oidc_client_id,
            client_secret=(
                settings.oidc_client_secret.get_secret_value()
                if settings.oidc_client_secret
                else ""
            ),
            person_claim=settings.oidc_person_claim,
            scope=settings.oidc_scope,
        )
    return WebConfig(
        secret_key=settings.secret_key.get_secret_value() if settings.secret_key else None,
        cookie_secure=settings.cookie_secure,
        session_hours=settings.session_hours,
        upload_dir=settings.upload_dir,
        upload_max_bytes=settings.upload_max_bytes,
        base_url=settings.base_url.rstrip("/"),
        oidc=oidc,
    )


def web_app(system: System, *, with_scheduler: bool) -> FastAPI:
    return create_app(services_for(system, with_scheduler=with_scheduler))
