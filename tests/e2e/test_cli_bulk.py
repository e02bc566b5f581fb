"""``safeloop import FILE`` (findings in bulk) and ``safeloop generate``, as an operator uses
them; ``safeloop import events`` (a backup) is covered in tests/integration/test_backup.py."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from domain.ids import hazard_id_for_client_ref
from projections.boards import list_items
from tests.e2e.conftest import opened, run

EXAMPLE_ORG = Path(__file__).parents[2] / "examples" / "org.yaml"
HEADER = "kind,description,location,reporter,reporter_role,occurred_at,department,client_ref\n"


def filed(env: dict[str, str]) -> list[dict[str, object]]:
    system = opened(env)
    try:
        system.runner.catch_up()
        return list_items(system.store, limit=1000)[0]
    finally:
        system.close()


def test_importing_findings_twice_files_each_once_and_lists_rejected_rows(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, "org", "load", str(EXAMPLE_ORG), "--effective", "2026-01-01T00:00:00+08:00")
    good = [
        f"hazard,回风巷瓦斯传感器吊挂位置不当 {i},1301回风顺槽,ZC1-4,worker,"
        f"2026-03-01T08:{i:02d}:00+08:00,{'ZC1' if i % 2 else ''},import-{i}\n"
        for i in range(30)
    ]
    bad = [
        "hazard,传感器,1301回风顺槽,ghost,worker,2026-03-01T08:00:00+08:00,,import-ghost\n",
        "hazard,传感器,1301回风顺槽,ZC1-4,worker,2026-03-01T08:00:00+08:00,NOPE,import-dept\n",
        "accident,传感器,1301回风顺槽,ZC1-4,worker,2026-03-01T08:00:00+08:00,,import-kind\n",
        "hazard,传感器,1301回风顺槽,ZC1-4,worker,yesterday,,import-time\n",
        "hazard,传感器,1301回风顺槽,ZC1-4,worker,2026-03-01T08:00:00+08:00,,\n",
        "hazard,传感器,1301回风顺槽,ZC1-4,worker,2099-03-01T08:00:00+08:00,,import-future\n",
    ]
    repeat = good[3]  # the same client_ref twice in one file
    export = tmp_path / "findings.csv"
    export.write_text(HEADER + "".join(good[:20] + bad + [repeat] + good[20:]), encoding="utf-8")

    first = run(env, "import", str(export))  # rejected rows do not make it fail
    assert "37 row(s): 30 filed, 1 already filed (same client_ref), 6 rejected" in first
    for line, why in [
        (22, "reporter: unknown person"),
        (23, "department: unknown department"),
        (24, "kind: Input should be 'hazard', 'violation' or 'problem' / 取值无效"),
        (25, "occurred_at: Input should be a valid datetime"),
        (26, "client_ref: a client_ref is needed"),
        (27, "occurred_at: occurred_at is in the future"),
    ]:
        assert f"line {line}: {why}" in first
    again = run(env, "import", str(export))
    assert "37 row(s): 0 filed, 31 already filed (same client_ref), 6 rejected" in again

    items = filed(env)
    assert len(items) == 30
    assert sorted(str(i["description"]) for i in items) == sorted(
        f"回风巷瓦斯传感器吊挂位置不当 {i}" for i in range(30)
    )
    assert Counter(i["department"] for i in items) == {"ZC1": 15, None: 15}
    # consecutive numbers of the day's counter, each once
    numbers = sorted(str(i["number"]) for i in items)
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, 31))


def test_importing_json_lines_uses_the_api_rules(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "org", "load", str(EXAMPLE_ORG), "--effective", "2026-01-01T00:00:00+08:00")
    row = {
        "kind": "violation",
        "description": "未戴自救器下井",
        "location": "副井口",
        "reporter": "ZC1-4",
        "reporter_role": "worker",
        "occurred_at": "2026-03-01T08:10:00",  # no offset: the site's timezone
        "client_ref": "jsonl-1",
    }
    lines = [
        json.dumps(row, ensure_ascii=False),
        "{not json",
        json.dumps([1, 2]),
        json.dumps({**row, "client_ref": "jsonl-2", "extra": 1}),
        json.dumps({**row, "client_ref": "jsonl-3", "description": "NUL\u0000here"}),
        "",
        json.dumps({**row, "client_ref": "jsonl-urgent", "urgent": True}),
    ]
    export = tmp_path / "findings.jsonl"
    export.write_text("\n".join(lines), encoding="utf-8")
    out = run(env, "import", str(export))
    assert "6 row(s): 2 filed, 0 already filed (same client_ref), 4 rejected" in out
    assert "line 2: not valid JSON" in out and "line 3: not a JSON object" in out
    assert "line 4: extra: Extra inputs are not permitted / 不允许的字段" in out
    assert "line 5: description: must not contain control characters" in out
    items = {str(i["id"]): i for i in filed(env)}
    item = items[str(hazard_id_for_client_ref("jsonl-1"))]
    assert item["kind"] == "violation" and str(item["number"]).startswith("SW-")
    assert item["occurred_at"] == "2026-03-01T00:10:00.000000Z"
    system = opened(env)
    try:  # urgent, as through the API: the response timers started
        assert system.app.hazard(hazard_id_for_client_ref("jsonl-urgent")).urgent
        assert not system.app.hazard(hazard_id_for_client_ref("jsonl-1")).urgent
    finally:
        system.close()


def test_import_fails_only_when_it_cannot_run(env: dict[str, str], tmp_path: Path) -> None:
    assert "no such file" in run(env, "import", str(tmp_path / "missing.csv"), code=2)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert "no header row" in run(env, "import", str(empty), code=2)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\xfa kind\n")
    assert "cannot read" in run(env, "import", str(binary), code=2)
    assert "usage" in run(env, "import", "a.csv", "b.csv", code=2)
    # a file whose every row is rejected still ran: exit 0
    rows = tmp_path / "rows.csv"
    rows.write_text(HEADER + "hazard,x,y,ghost,worker,2026-03-01T08:00:00,,r1\n", encoding="utf-8")
    assert "1 rejected" in run(env, "import", str(rows))


def test_generate_writes_a_plausible_history(env: dict[str, str]) -> None:
    out = run(env, "generate", "--items", "120", "--days", "20", "--seed", "5")
    assert "120 findings over 20 days" in out
    items = filed(env)
    assert len(items) == 120
    states = Counter(str(i["state"]) for i in items)
    assert {"CLOSED", "NOTICED", "OVERDUE"} <= set(states)
    assert len({i["department"] for i in items if i["department"]}) >= 5
    assert any(int(str(i["overdue_periods"])) > 0 for i in items)
    system = opened(env)
    try:
        topics = Counter(
            n.topic.rsplit(".", 1)[1]
            for n in system.app.recorder.select_notifications(start=1, limit=100_000)
        )
    finally:
        system.close()
    assert topics["RecheckFailed"] > 0 and topics["ReNoticed"] > 0
    assert topics["Screened"] > 0 and topics["RectificationSubmitted"] > 0
