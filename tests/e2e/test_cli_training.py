"""``safeloop certificates import`` and ``safeloop checklists load``, as an operator uses them."""

from __future__ import annotations

from pathlib import Path

from projections import certificates, checklists
from tests.e2e.conftest import opened, run
from tests.e2e.test_cli_cases import EXAMPLE_ORG

EXAMPLE_CHECKLISTS = Path(__file__).parents[2] / "examples" / "checklists.yaml"


def test_importing_certificates_twice_records_each_once_and_lists_rejected_rows(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, "org", "load", str(EXAMPLE_ORG), "--effective", "2026-01-01T00:00:00+08:00")
    export = tmp_path / "certificates.csv"
    export.write_text(
        "\ufeff工号,证书类型,证号,发证日期,有效期至,备注\n"
        "ZC1-1,采煤机司机操作证,T001,2024-03-01,2030-02-28,\n"
        "ZC1-4,电工作业操作证,T002,2024-03-01T08:00:00+08:00,2031-03-01,\n"
        "ghost,电工作业操作证,T003,2024-03-01,2027-03-01,\n"
        "ZC1-4,瓦斯检查作业证,T004,2024-03-01,someday,\n"
        "X01,瓦斯检查作业证,T005,2025-03-01,2024-03-01,\n",
        encoding="utf-8",
    )
    first = run(env, "certificates", "import", str(export), code=1)
    assert "5 row(s): 2 recorded, 0 renewed, 0 already on record, 3 rejected" in first
    assert "line 4: person" in first
    assert "line 5: expires_at" in first
    assert "line 6: expires_at" in first and "有效期必须晚于发证时间" in first
    again = run(env, "certificates", "import", str(export), code=1)
    assert "5 row(s): 0 recorded, 0 renewed, 2 already on record, 3 rejected" in again
    good = tmp_path / "renewals.csv"
    good.write_text(
        "person,type,number,issued_at,expires_at\nZC1-1,采煤机司机操作证,T009,2026-01-05,2032-01-04\n",
        encoding="utf-8",
    )
    assert "1 row(s): 0 recorded, 1 renewed" in run(env, "certificates", "import", str(good))
    loaded = run(env, "checklists", "load", str(EXAMPLE_CHECKLISTS))
    assert loaded.splitlines() == ["longwall: v1", "heading: v1"]
    again = run(env, "checklists", "load", str(EXAMPLE_CHECKLISTS))
    assert again.splitlines() == ["longwall: v1 (unchanged)", "heading: v1 (unchanged)"]
    system = opened(env)
    try:
        rows = certificates.of_people(system.store, ["ZC1-1", "ZC1-4"])
        templates = checklists.templates(system.store)
    finally:
        system.close()
    # a day is read at the site (Asia/Shanghai): issued at its start, valid through its end
    assert [(r["person"], r["number"], r["issued_at"], r["expires_at"]) for r in rows] == [
        ("ZC1-1", "T009", "2026-01-04T16:00:00.000000Z", "2032-01-04T16:00:00.000000Z"),
        ("ZC1-4", "T002", "2024-03-01T00:00:00.000000Z", "2031-03-01T16:00:00.000000Z"),
    ]
    assert [t["code"] for t in templates] == ["heading", "longwall"]
    bad = tmp_path / "bad.csv"
    bad.write_text("who,what\nx,y\n", encoding="utf-8")
    assert "no 'person' column" in run(env, "certificates", "import", str(bad), code=2)
