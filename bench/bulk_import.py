"""Bulk import of findings on SQLite (``safeloop import FILE``): findings per second.

Writes a CSV of N findings (the fields of ``POST /api/v1/hazards`` with a client_ref each)
and imports it into a fresh SQLite store, read models built after. Baseline: the same
findings filed one at a time through ``SafeLoop.file_hazard`` (what the API does per request:
one transaction each), over the first ones. Also: the rerun (nothing filed twice). Goal:
≥ 5,000 findings/s.

    .venv/bin/python bench/bulk_import.py [--size FINDINGS]     # default 20,000
"""

from __future__ import annotations

import csv
import tempfile
from datetime import timedelta
from pathlib import Path

from _harness import T0, arguments, fake_clock, opened, report, store_settings, timed

from domain.application import FILING_FIELDS
from safeloop.findings_import import import_findings
from tests.conftest import ORG

BASELINE = 500


def write_csv(path: Path, n: int, tag: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(FILING_FIELDS)
        for i in range(n):
            out.writerow(
                (
                    ("hazard", "violation", "problem")[i % 3],
                    f"回风巷瓦斯传感器吊挂位置不当，距顶板超过300mm（{i}）",
                    f"1301回风顺槽 {i % 40} 号架",
                    ("w1", "w2", "m1")[i % 3],
                    ("worker", "worker", "mass_supervisor")[i % 3],
                    (T0 - timedelta(minutes=i % 5000)).isoformat(),
                    ("CM1", "TF", "")[i % 3],
                    f"{tag}-{i}",
                )
            )


def main() -> None:
    args = arguments(__doc__ or "", 20_000, "findings in the file")
    n = args.size
    with tempfile.TemporaryDirectory() as tmp, store_settings("sqlite") as settings:
        assert settings is not None
        file = Path(tmp) / "findings.csv"
        write_csv(file, n, "bulk")
        with opened(settings, fake_clock(T0)) as system:
            system.app.load_org(ORG, actor="admin", now=T0 - timedelta(days=1))

            def one_by_one() -> None:
                for i in range(BASELINE):
                    system.app.file_hazard(
                        kind="hazard",
                        description=f"回风巷瓦斯传感器吊挂位置不当，距顶板超过300mm（{i}）",
                        location="1301回风顺槽",
                        reporter="w1",
                        reporter_role="worker",
                        occurred_at=T0,
                        client_ref=f"single-{i}",
                        actor="admin",
                        now=T0,
                    )

            baseline = BASELINE / timed(one_by_one)
            summary = None

            def bulk() -> None:
                nonlocal summary
                summary = import_findings(system, file, actor="admin")

            took = timed(bulk)
            assert summary is not None
            assert summary.created == n, summary
            built = timed(system.runner.catch_up)
            again = timed(bulk)
            assert summary.existing == n, summary
    print(
        f"[sqlite] {n:,} findings imported in {took:.1f} s; read models built in {built:.1f} s"
        f" ({n / (took + built):,.0f} findings/s with them); rerun (all already filed)"
        f" {again:.1f} s"
    )
    report(
        "[sqlite] import vs one filing per transaction",
        n / took,
        baseline,
        "findings/s",
        ">= 5,000 findings/s",
    )


if __name__ == "__main__":
    main()
