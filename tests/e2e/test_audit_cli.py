"""The auditor's commands as an operator runs them: verify, seals, export and import events."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from typer.testing import CliRunner

from projections import boards
from safeloop.cli import cli
from safeloop.settings import Settings
from safeloop.system import build_system


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """The CLI points logging at CliRunner's captured stderr, which closes after each call;
    put the handlers back so later tests in this process do not log to a closed stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_verify_seal_backup_and_restore(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    env = {"SAFELOOP_DATABASE_URL": f"sqlite:///{db}"}
    run(env, "demo", "--days", "8", "--findings", "30")
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
    # 'import FILE' imports findings (tests/e2e/test_cli_bulk.py); a missing file cannot run
    assert "no such file" in run(restored_env, "import", "findings.csv", code=2)
    # documents: the list and a board as spreadsheets, a notice and an opinion as PDFs
    system = build_system(Settings(database_url=env["SAFELOOP_DATABASE_URL"]))
    try:
        items, _ = boards.list_items(system.store, limit=100)
    finally:
        system.close()
    assert 30 <= len(items) < 100
    assert "item(s) written" in run(env, "export", "hazards", "--out", str(tmp_path / "l.xlsx"))
    assert load_workbook(tmp_path / "l.xlsx").active.max_row == len(items) + 1  # and a header
    run(env, "export", "board", "ZC1", "--out", str(tmp_path / "b.csv"), "--as-of", "2026-01-01")
    assert (tmp_path / "b.csv").read_text(encoding="utf-8-sig").count("\n") == 1  # empty then
    number = next(i["number"] for i in items if i["overdue_periods"] > 0)
    run(env, "export", "notice", number, "--out", str(tmp_path / "n.pdf"))
    run(env, "export", "opinion", number, "--out", str(tmp_path / "o.pdf"))
    assert "整改通知书" in PdfReader(tmp_path / "n.pdf").pages[0].extract_text()
    assert "处理意见" in PdfReader(tmp_path / "o.pdf").pages[0].extract_text()
    assert "no item" in run(env, "export", "notice", "YH-1", "--out", "x.pdf", code=2)

    # policy simulation: read-only, per department
    head = len(backup.read_text(encoding="utf-8").splitlines())
    strict = str(Path(__file__).parents[2] / "examples" / "policy-strict.yaml")
    table = run(env, "simulate", "--policy", strict, "--from", "2000-01-01", "--to", "2100-01-01")
    assert "overdue periods" in table and "\ntotal " in table
    data = json.loads(
        run(
            env,
            "simulate",
            "--policy",
            strict,
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--json",
        )
    )
    periods = sum(d["other"]["periods"] for d in data.values())
    assert periods > sum(d["current"]["periods"] for d in data.values())  # stricter: more
    run(env, "export", "events", "--out", str(backup))
    assert len(backup.read_text(encoding="utf-8").splitlines()) == head  # nothing recorded

    # a hand edit of one stored event is named by verify (exit code 1)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE stored_events SET topic = topic || ' ' WHERE rowid = 30")
    out = run(env, "verify", code=1)
    assert "altered: notification 30" in out
