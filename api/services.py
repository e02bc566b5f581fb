"""What the HTTP layer needs from the wired system (built by safeloop.system)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from domain.application import SafeLoop
from domain.policy import SitePolicy
from projections.runner import ProjectionRunner
from projections.store import ViewStore

log = logging.getLogger("safeloop.api")


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    person_claim: str = "preferred_username"
    scope: str = "openid profile"


@dataclass
class WebConfig:
    """What the pages need: session signing, cookies, uploads, single sign-on."""

    #: signs session cookies; None: a random key for this process
    secret_key: str | None = None
    cookie_secure: str = "auto"
    session_hours: float = 12
    upload_dir: Path = Path("./uploads")
    upload_max_bytes: int = 8 * 1024 * 1024
    base_url: str = "http://127.0.0.1:8000"
    oidc: OidcConfig | None = None


@dataclass
class Services:
    app: SafeLoop
    store: ViewStore
    runner: ProjectionRunner
    clock: Callable[[], datetime]
    policy: SitePolicy
    admin_token: str | None = None
    read_your_writes_timeout: float = 10.0
    max_body_bytes: int = 1_048_576
    #: findings recorded this many hours after they occurred are flagged late
    late_entry_hours: float = 24.0
    web: WebConfig = field(default_factory=WebConfig)
    #: called when the server starts and stops (the scheduler, the projection runner)
    on_start: list[Callable[[], None]] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock()

    @property
    def late_after_seconds(self) -> int:
        return int(self.late_entry_hours * 3600)

    def caught_up(self, position: int | None) -> bool:
        """Wait until the read models include ``position`` (read-your-writes)."""
        done = self.runner.wait_for(position, self.read_your_writes_timeout)
        if not done:
            log.warning(
                "read models did not reach the command's position in time",
                extra={"position": position, "timeout": self.read_your_writes_timeout},
            )
        return done
