"""``safeloop scheduler`` as an operator runs it: a separate process that re-notices a missed
deadline and e-mails the escalation and the digest, then stops cleanly on SIGTERM (SQLite
and PostgreSQL, where it holds the lease)."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from domain.hazard import Hazard
from safeloop.system import build_system
from tests.conftest import ORG, FakeClock, drop_schema, settings_for
from tests.receivers import smtp_receiver

#: to d1 (a deputy chief): the copy of the notice, the escalation, and yesterday's digest
EXPECTED = ["【安全信息日报", "【抄送·整改通知", "【逾期督办·1级"]


def test_the_scheduler_process_renotices_and_delivers(store_kind: str, tmp_path: Path) -> None:
    with smtp_receiver() as smtp:
        settings, schema = settings_for(store_kind, tmp_path)
        start = datetime.now(UTC) - timedelta(hours=2)
        system = build_system(settings, clock=FakeClock(start))
        try:
            org = copy.deepcopy(ORG)
            for person in org["people"]:
                if person["id"] == "d1":
                    person["email"] = "d1@mine.test"
            app = system.app
            app.load_org(org, actor="admin", now=start)
            hid = app.file_hazard(
                kind="hazard",
                description="风门未关闭",
                location="+350水平风门",
                reporter="w1",
                reporter_role="worker",
                occurred_at=start,
                actor="w1",
                now=start,
            ).id
            app.screen(hid, grade="general", department="CM1", actor="o1", now=start)
            app.issue_notice(
                hid,
                responsible_person="u1",
                measures="关闭风门",
                funds=Decimal("0"),
                deadline=start + timedelta(hours=1),  # an hour ago by the real clock
                contingency="撤人",
                actor="o1",
                now=start,
            )
            env = {
                **os.environ,
                "SAFELOOP_DATABASE_URL": settings.database_url,
                "SAFELOOP_DATABASE_SCHEMA": settings.database_schema,
                "SAFELOOP_SMTP_HOST": "127.0.0.1",
                "SAFELOOP_SMTP_PORT": str(smtp.port),
                "SAFELOOP_OUTBOX_INTERVAL_SECONDS": "1",
                "SAFELOOP_LOG_FORMAT": "text",
            }
            process = subprocess.Popen(
                [sys.executable, "-m", "safeloop.cli", "scheduler"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and len(smtp.dedup_keys()) < len(EXPECTED):
                    time.sleep(0.1)  # waiting for the other process, not for time to pass
            finally:
                process.send_signal(signal.SIGTERM)
                output, _ = process.communicate(timeout=60)
            assert process.returncode == 0, output
            assert "stopping the scheduler" in output
            events = app.hazard_events(hid)
            assert [type(e).__name__ for e in events][-2:] == ["HandlingOpinionIssued", "ReNoticed"]
            assert sum(isinstance(e, Hazard.ReNoticed) for e in events) == 1
            subjects = sorted(str(m["Subject"]).split("】")[0] for m in smtp.messages)
            assert subjects == EXPECTED, output
        finally:
            system.close()
            if schema:
                drop_schema(schema)
