"""Real processes for fault tests: `safeloop serve` and `safeloop scheduler` as subprocesses,
a private PostgreSQL.

Everything listens on loopback only, on free ports, and is stopped by the test that started
it (by its own pid, never by name).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from safeloop.settings import Settings
from tests.conftest import IN_CI, drop_schema, settings_for

ADMIN = "fault-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(condition: Any, what: str, timeout: float = 60.0, every: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


class Process:
    """A ``safeloop`` command in its own process (and process group), settings from the env,
    output to a log file."""

    def __init__(self, command: str, env: Mapping[str, str], log: Path) -> None:
        self.command = command
        self.env = {
            **os.environ,
            "SAFELOOP_ADMIN_TOKEN": ADMIN,
            "SAFELOOP_LOG_FORMAT": "text",
            "SAFELOOP_LOG_LEVEL": "WARNING",
            **env,
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "safeloop.cli", self.command],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        """Whether it runs; fails with its log if it exited."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.command} exited: {self.log.read_text()[-3000:]}")
        return True

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flushing, as a power cut would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Server(Process):
    """``safeloop serve``."""

    def __init__(self, env: Mapping[str, str], log: Path, *, scheduler: bool = False) -> None:
        self.port = free_port()
        super().__init__(
            "serve",
            {
                "SAFELOOP_HOST": "127.0.0.1",
                "SAFELOOP_PORT": str(self.port),
                "SAFELOOP_SCHEDULER": "true" if scheduler else "false",
                **env,
            },
            log,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        self.spawn()

        def ready() -> bool:
            self.alive()
            try:
                return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, "the server to start", timeout)
        return self

    def client(self, token: str | None = ADMIN, timeout: float = 60.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


class Scheduler(Process):
    """``safeloop scheduler`` (the standalone production scheduler), logging at INFO so its
    lease moves ("stands by", "lease taken") are in its log."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        super().__init__("scheduler", {"SAFELOOP_LOG_LEVEL": "INFO", **env}, log)

    def start(self, until: str, timeout: float = 60.0) -> Scheduler:
        """Start it and wait until its log has the line ``until``."""
        self.spawn()
        wait_until(
            lambda: self.alive() and until in self.logs(), f"{self.log.name}: {until}", timeout
        )
        return self


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- a private PostgreSQL cluster ------------------------------------------------------------


def pg_bindir() -> Path | None:
    """Where initdb and pg_ctl are (SAFELOOP_TEST_PG_BINDIR, PATH, or pg_config)."""
    configured = os.environ.get("SAFELOOP_TEST_PG_BINDIR")
    candidates = [configured] if configured else []
    found = shutil.which("initdb")
    if found:
        candidates.append(str(Path(found).resolve().parent))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free loopback port, which tests may stop.

    The shared server on 5432 is used by everyone at once and is never stopped; outage tests
    stop this one instead. initdb refuses to run as root, so as root the cluster belongs to
    the ``postgres`` user.
    """

    def __init__(self) -> None:
        bindir = pg_bindir()
        if bindir is None:
            if IN_CI:
                pytest.fail("PostgreSQL binaries (initdb, pg_ctl) are required when CI=true")
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
        self.bindir = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="safeloop-pg-"))
        self.data = self.dir / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stdout}\n{result.stderr}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir}"
            " -c fsync=off -c max_connections=100 -c shared_buffers=32MB"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        wait_until(self.reachable, "the private PostgreSQL to accept connections", 60)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def reachable(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            if (self.data / "postmaster.pid").exists():
                self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def store_env(kind: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], Settings]]:
    """Settings (as server env and as Settings) for a fresh store; a PG schema is dropped after."""
    settings, schema = settings_for(kind, tmp_path)
    env = {"SAFELOOP_DATABASE_URL": settings.database_url}
    if schema:
        env["SAFELOOP_DATABASE_SCHEMA"] = schema
    try:
        yield env, settings
    finally:
        if schema:
            drop_schema(schema)
