"""The auditor's commands as an operator runs them: verify, seals, export and import events."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from safeloop.cli import cli


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_verify_seal_backup_and_restore(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    env = {"SAFELOOP_DATABASE_URL": f"sqlite:///{db}"}
    run(env, "demo", "--days", "4", "--findings", "20")
    assert "ok:" in run(env, "verify")
    seal = tmp_path / "seal.json"
    assert "written to" in run(env, "seal", "export", "--out", str(seal))
    assert '"link"' in run(env, "seal", "show")
    assert "2 seal(s) checked" in run(env, "verify", "--seal", str(seal))
    backup = tmp_path / "events.jsonl"
    assert "exported" in run(env, "export", "events", "--out", str(backup))
    restored_env = {"SAFELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}
    assert "verify ok" in run(restored_env, "import", "events", str(backup))
    assert "not empty" in run(restored_env, "import", "events", str(backup), code=2)
    assert "ok:" in run(restored_env, "verify", "--seal", str(seal))
    assert "not available yet" in run(restored_env, "import", "findings.csv", code=2)
    # a hand edit of one stored event is named by verify (exit code 1)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE stored_events SET topic = topic || ' ' WHERE rowid = 30")
    out = run(env, "verify", code=1)
    assert "altered: notification 30" in out
