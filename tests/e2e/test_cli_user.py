"""``safeloop user set-password`` as an operator uses it, and the demo's logins."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.web.passwords import verify_password
from safeloop.cli import cli
from safeloop.settings import Settings
from safeloop.system import build_system
from tests.conftest import ORG


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """The CLI points logging at the runner's stream, which closes: put it back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_set_password_from_the_option_or_standard_input(tmp_path: Path) -> None:
    env = {"SAFELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    org = tmp_path / "org.json"
    org.write_text(json.dumps(ORG), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["org", "load", str(org)], env=env).exit_code == 0
    done = runner.invoke(cli, ["user", "set-password", "u1", "--password", "first pass"], env=env)
    assert done.exit_code == 0 and "password set for u1" in done.output
    piped = runner.invoke(
        cli, ["user", "set-password", "o1", "--admin"], env=env, input="from stdin pw\n"
    )
    assert piped.exit_code == 0, piped.output
    weak = runner.invoke(cli, ["user", "set-password", "u1", "--password", "short"], env=env)
    assert weak.exit_code == 2 and "at least 8" in weak.output
    unknown = runner.invoke(cli, ["user", "set-password", "ghost", "--password", "x" * 9], env=env)
    assert unknown.exit_code == 2 and "ghost" in unknown.output

    system = build_system(Settings(database_url=env["SAFELOOP_DATABASE_URL"]))
    try:
        u1, o1 = system.app.account("u1"), system.app.account("o1")
        assert u1 is not None and o1 is not None
        assert verify_password(u1.password_hash, "first pass") and not u1.is_admin
        assert verify_password(o1.password_hash, "from stdin pw") and o1.is_admin
        assert "first pass" not in str(list(system.app.events.get(u1.id)))  # only the hash
    finally:
        system.close()


def test_the_demo_prints_web_logins(tmp_path: Path) -> None:
    env = {"SAFELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    out = CliRunner().invoke(cli, ["demo", "--days", "3", "--findings", "12"], env=env)
    assert out.exit_code == 0, out.output
    logins = out.output.split("Web logins for demo users")[1]
    line = next(line for line in logins.splitlines() if line.strip().startswith("X01 "))
    assert line.split()[-1] == "safeloop-demo"
