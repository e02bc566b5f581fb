"""Shared fixtures: stores (SQLite and PostgreSQL), a controllable clock, a live server."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from domain.application import SafeLoop
from safeloop.settings import Settings, parse_database_url
from safeloop.system import System, build_system, pg_conninfo

PG_URL = os.environ.get("SAFELOOP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # 08:00 in Asia/Shanghai


class FakeClock:
    """A clock tests move by hand (thread-safe)."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


_pg_checked: bool | None = None


def postgres_available() -> bool:
    global _pg_checked
    if _pg_checked is None:
        try:
            with psycopg.connect(PG_URL, connect_timeout=3):
                _pg_checked = True
        except psycopg.Error:
            _pg_checked = False
    return _pg_checked


def require_postgres() -> None:
    if postgres_available():
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL is required when CI=true but {PG_URL} is unreachable")
    pytest.skip("PostgreSQL not reachable (set SAFELOOP_TEST_POSTGRES_URL)")


def drop_schema(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def noticed_finding(
    app: SafeLoop,
    deadline: datetime,
    description: str = "回风巷瓦斯传感器吊挂位置不当",
    client_ref: str | None = None,
) -> UUID:
    """A finding filed, screened (general, CM1) and given a notice due at ``deadline``, all at
    T0; returns its id (also used by the bench scripts)."""
    filed = app.file_hazard(
        kind="hazard",
        description=description,
        location="1301回风顺槽",
        reporter="w1",
        reporter_role="worker",
        occurred_at=T0,
        actor="w1",
        now=T0,
        client_ref=client_ref,
    )
    app.screen(filed.id, grade="general", department="CM1", actor="o1", now=T0)
    app.issue_notice(
        filed.id,
        responsible_person="u1",
        measures="重新吊挂",
        funds=Decimal(0),
        deadline=deadline,
        contingency="超限撤人",
        actor="o1",
        now=T0,
    )
    return filed.id


def settings_for(kind: str, tmp_path: Path, **overrides: Any) -> tuple[Settings, str | None]:
    """Settings for a fresh store of ``kind``; returns the PostgreSQL schema to drop, if any."""
    if kind == "sqlite":
        return Settings(database_url=f"sqlite:///{tmp_path / 'safeloop.db'}", **overrides), None
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    return Settings(database_url=PG_URL, database_schema=schema, **overrides), schema


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI sets the root logger's handler to the stream CliRunner gives it, which is
    closed after the command: put back what was there, so later log lines have a home."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def system(store_kind: str, tmp_path: Path, clock: FakeClock) -> Iterator[System]:
    settings, schema = settings_for(
        store_kind, tmp_path, admin_token="test-admin-token", upload_dir=tmp_path / "uploads"
    )
    built = build_system(settings, clock=clock)
    try:
        yield built
    finally:
        built.close()
        if schema:
            drop_schema(schema)


def pg_info() -> dict[str, Any]:
    return pg_conninfo(parse_database_url(PG_URL))


ORG: dict[str, Any] = {
    "departments": [
        {
            "code": "CM1",
            "name_zh": "综采一队",
            "name_en": "Longwall Team 1",
            "specialty": "mining",
            "unit_head": "u1",
            "deputy_chief": "d1",
            "leader_in_charge": "l1",
        },
        {
            "code": "TF",
            "name_zh": "通风队",
            "name_en": "Ventilation Team",
            "specialty": "ventilation",
            "unit_head": "u2",
            "deputy_chief": "d2",
            "leader_in_charge": "l1",
        },
    ],
    "people": [
        {"id": "u1", "name": "张卫东", "role": "unit_head", "department": "CM1"},
        {"id": "s1", "name": "李海涛", "role": "staff", "department": "CM1"},
        {"id": "w1", "name": "刘小军", "role": "worker", "department": "CM1"},
        {"id": "u2", "name": "罗国强", "role": "unit_head", "department": "TF"},
        {"id": "w2", "name": "谢东升", "role": "worker", "department": "TF"},
        {"id": "d1", "name": "刘志强", "role": "deputy_chief"},
        {"id": "d2", "name": "杨永胜", "role": "deputy_chief"},
        {"id": "l1", "name": "赵立新", "role": "leader"},
        {"id": "c1", "name": "王建国", "role": "mine_chief"},
        {"id": "o1", "name": "蒋慧敏", "role": "info_office", "department": "XXB"},
        {"id": "a1", "name": "曹振国", "role": "safety_dept", "department": "AJC"},
        {"id": "au", "name": "沈文涛", "role": "auditor"},
        {"id": "m1", "name": "田大勇", "role": "mass_supervisor", "department": "CM1"},
    ],
}
ORG["departments"] += [
    {"code": "XXB", "name_zh": "安全信息办", "name_en": "Safety Information Office"},
    {"code": "AJC", "name_zh": "安监处", "name_en": "Safety Supervision Dept"},
]
