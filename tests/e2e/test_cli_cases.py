"""``safeloop site-visits import`` and ``org load --effective``, as an operator uses them."""

from __future__ import annotations

from pathlib import Path

from projections.site_visits import list_visits
from tests.e2e.conftest import opened, run

EXAMPLE_ORG = Path(__file__).parents[2] / "examples" / "org.yaml"


def test_importing_an_attendance_file_twice_records_each_visit_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, "org", "load", str(EXAMPLE_ORG), "--effective", "2026-01-01T00:00:00+08:00")
    export = tmp_path / "attendance.csv"
    export.write_text(
        "\ufeff工号,地点,时间,卡号\n"
        "ZC1-1,1301综采工作面,2026-03-01T07:30:00,0001\n"
        "L05,1301综采工作面,2026-03-01T09:10:00+08:00,0002\n"
        "ghost,1301综采工作面,2026-03-01T09:10:00+08:00,0003\n"
        "L02,1301综采工作面,yesterday,0004\n",
        encoding="utf-8",
    )
    first = run(env, "site-visits", "import", str(export), code=1)
    assert "4 row(s): 2 recorded, 0 already recorded (or twice in the file), 2 skipped" in first
    assert "line 4: person" in first and "line 5: not an ISO 8601 instant" in first
    again = run(env, "site-visits", "import", str(export), code=1)
    assert "4 row(s): 0 recorded, 2 already recorded (or twice in the file), 2 skipped" in again
    system = opened(env)
    try:
        visits = list_visits(system.store, location="1301综采工作面")
        org_events = list(system.app.events.get(system.app.org().id))
    finally:
        system.close()
    # a time without an offset is read at the site (Asia/Shanghai)
    assert [(v["person"], v["at"]) for v in visits] == [
        ("L05", "2026-03-01T01:10:00.000000Z"),
        ("ZC1-1", "2026-02-28T23:30:00.000000Z"),
    ]
    assert {e.occurred_at.isoformat() for e in org_events} == {"2026-01-01T00:00:00+08:00"}
    bad = tmp_path / "bad.csv"
    bad.write_text("who,where\nx,y\n", encoding="utf-8")
    assert "no 'person' column" in run(env, "site-visits", "import", str(bad), code=2)
