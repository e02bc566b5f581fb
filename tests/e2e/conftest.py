"""A live HTTP server (uvicorn in a thread) over a fresh store, with a controllable clock."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from safeloop.system import System
from safeloop.web import web_app
from tests.conftest import ORG, FakeClock

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
