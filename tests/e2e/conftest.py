"""A live HTTP server (uvicorn in a thread) over a fresh store, with a controllable clock."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from safeloop.cli import cli
from safeloop.settings import Settings
from safeloop.system import System, build_system
from safeloop.web import web_app
from tests.conftest import ORG, FakeClock, drop_schema, settings_for

ADMIN = "test-admin-token"


class LiveServer:
    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:  # readiness, not a timing assumption
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@dataclass
class Api:
    base_url: str
    system: System
    clock: FakeClock

    def client(self, token: str | None = ADMIN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)

    def token(self, person: str) -> str:
        return self.system.app.create_token(person, label="test", actor="admin", now=self.clock())

    def head(self) -> int:
        return self.system.app.head()


@pytest.fixture
def api(system: System, clock: FakeClock) -> Iterator[Api]:
    server = LiveServer(web_app(system, with_scheduler=False))
    base_url = server.start()
    try:
        live = Api(base_url, system, clock)
        with live.client() as admin:
            response = admin.put("/api/v1/org", json=copy.deepcopy(ORG))
            assert response.status_code == 200, response.text
        yield live
    finally:
        server.stop()


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def env(store_kind: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment that points the ``safeloop`` command at a fresh store."""
    settings, schema = settings_for(store_kind, tmp_path)
    yield {
        "SAFELOOP_DATABASE_URL": settings.database_url,
        "SAFELOOP_DATABASE_SCHEMA": settings.database_schema,
    }
    if schema:
        drop_schema(schema)


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    """Run ``safeloop ARGS`` with ``env``; the exit code must be ``code``; returns the output."""
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def opened(env: dict[str, str], clock: FakeClock | None = None) -> System:
    """The system over the store ``env`` points at (the caller closes it)."""
    return build_system(
        Settings(
            database_url=env["SAFELOOP_DATABASE_URL"],
            database_schema=env["SAFELOOP_DATABASE_SCHEMA"],
        ),
        clock=clock,
    )
