"""The ``safeloop`` command line, as an operator uses it (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from pathlib import Path

from projections import boards
from tests.conftest import ORG, T0, FakeClock
from tests.e2e.conftest import opened, run


def test_demo_history_tick_and_projections(env: dict[str, str]) -> None:
    out = run(env, "demo", "--days", "8", "--findings", "40")
    assert "demo mine loaded" in out
    tokens = re.findall(r"(sl_[0-9a-f]{32}_\S+)", out)
    assert len(tokens) >= 10
    assert "already has data" in run(env, "demo", "--if-empty")
    run(env, "demo", code=2)  # never over existing data

    status = run(env, "projections", "status")
    assert re.search(r"boards\s+position\s+(\d+)\s+head\s+\1\s+lag\s+0", status), status

    # The demo ends at the real clock's now, so a deadline may pass before this tick runs;
    # what must hold is that a second tick at the same instant re-notices nothing.
    ticked = run(env, "tick")
    found = re.match(r"checked \d+, re-noticed \d+, conflicts 0 \(at (\S+)\)", ticked)
    assert found, ticked
    again = run(env, "tick", "--now", found.group(1))
    assert re.match(r"checked \d+, re-noticed 0, conflicts 0", again), again
    assert "later than the clock" in run(env, "tick", "--now", "2999-01-01T00:00:00", code=2)

    org = run(env, "org", "show")
    assert "综采一队" in org
    system = opened(env)
    try:
        items, _ = boards.list_items(system.store, state="CLOSED", limit=1)
    finally:
        system.close()
    number = items[0]["number"]
    history = run(env, "history", number)
    assert history.startswith(f"{number}  CLOSED")
    assert "Reported" in history
    assert "Closed" in history
    as_json = json.loads(run(env, "history", items[0]["id"], "--json"))
    assert as_json["state"] == "CLOSED"
    assert as_json["history"][0]["type"] == "Reported"
    first = as_json["history"][0]["recorded_at"]
    assert (
        json.loads(run(env, "history", number, "--json", "--as-of", first))["state"] == "REPORTED"
    )
    rebuilt = run(env, "projections", "rebuild")
    assert (
        "rebuilt boards, deadlines, timeline, site_visits, cases, scorecards, audit_chain,"
        " photos, notifications, digest" in rebuilt
    )
    assert "lag        0" in run(env, "projections", "status")


def test_org_load_token_and_history(env: dict[str, str], tmp_path: Path) -> None:
    doc = tmp_path / "org.yaml"
    doc.write_text(
        Path(__file__).parents[2].joinpath("examples", "org.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    assert "change(s) recorded" in run(env, "org", "load", str(doc))
    assert run(env, "org", "load", str(doc)).startswith("0 change(s)")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"departments": [], "people": [{"id": "x", "name": "y", "role": "boss"}]})
    )
    out = run(env, "org", "load", str(bad), code=2)
    assert "people[0].role" in out
    assert "未知角色" in out
    token = run(env, "token", "create", "ZC1-4").strip()
    assert token.startswith("sl_")
    assert "未找到人员" in run(env, "token", "create", "nobody", code=2)
    assert "revoked" in run(env, "token", "revoke", token)
    assert "no item" in run(env, "history", "YH-20000101-0001", code=2)


def test_digest_as_of_an_instant(env: dict[str, str]) -> None:
    clock = FakeClock()
    system = opened(env, clock)
    try:
        system.app.load_org(copy.deepcopy(ORG), actor="admin", now=T0 - timedelta(days=1))
        for _ in range(3):  # one at 08:00, 09:00 and 10:00 on 2 November at the site
            system.app.file_hazard(
                kind="hazard",
                description="巷道积尘超限",
                location="2202运输顺槽",
                reporter="w1",
                reporter_role="worker",
                occurred_at=clock(),
                actor="w1",
                now=clock(),
            )
            clock.advance(hours=1)
    finally:
        system.close()

    def total(*args: str) -> int:
        out = json.loads(run(env, "digest", "--date", "2026-11-02", *args))
        return int(out["new_findings"]["total"])

    assert total() == 3
    assert total("--as-of", "2026-11-02T09:30:00+08:00") == 2
    assert total("--as-of", "2026-11-02T08:30") == 1  # in the site's timezone
    assert total("--as-of", "2026-11-02T07:59:59+08:00") == 0
    assert "not an ISO 8601 instant" in run(env, "digest", "--as-of", "yesterday", code=2)
    refused = run(env, "digest", "--issue", "--as-of", "2026-11-02T09:30", code=2)
    assert "cannot be combined" in refused
