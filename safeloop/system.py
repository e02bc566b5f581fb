"""The composition root: settings in, a wired system out. Nothing connects before this runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo

from domain.application import SafeLoop
from domain.policy import SitePolicy
from projections.audit import AuditChain
from projections.boards import Boards
from projections.cases import Cases
from projections.certificates import CertificateIndexStore, Certificates
from projections.checklists import Checklists
from projections.deadlines import DeadlineIndex, Deadlines
from projections.digest import DigestFacts
from projections.notifications import Notifications
from projections.photos import Photos
from projections.runner import ProjectionRunner
from projections.scorecards import Scorecards
from projections.site_visits import SiteVisitIndex, SiteVisits
from projections.store import PostgresViewStore, SQLiteViewStore, ViewStore
from projections.timeline import Timeline
from projections.training import Training
from projections.urgent import UrgentTimers
from safeloop.notify import channel_config, default_channels
from safeloop.recorders import POSTGRES_FACTORY_TOPIC, SQLITE_FACTORY_TOPIC
from safeloop.settings import Database, Settings

log = logging.getLogger("safeloop")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class System:
    settings: Settings
    app: SafeLoop
    store: ViewStore
    runner: ProjectionRunner
    policy: SitePolicy
    clock: Clock = field(default=system_clock)
    _closed: bool = field(default=False, init=False)

    def now(self) -> datetime:
        return self.clock()

    @property
    def events_table(self) -> str:
        """The log's table (``stored_events`` in SQLite, ``safeloop_events`` in PostgreSQL)."""
        name: str = self.app.recorder.events_table_name  # type: ignore[attr-defined]
        return name

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.runner.stop()
        self.store.close()
        self.app.close()


def load_policy(path: Path | None) -> SitePolicy:
    if path is None:
        return SitePolicy()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"cannot read policy file {path}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"policy file {path} must hold a mapping")
    return SitePolicy.from_mapping(data)


def build_system(settings: Settings, *, clock: Clock | None = None) -> System:
    """Open the store, create missing tables, and wire the application and read models."""
    policy = load_policy(settings.policy_file)
    db = settings.database
    env: dict[str, str] = {"AGGREGATE_CACHE_MAXSIZE": "1000"}
    store: ViewStore
    if db.kind == "sqlite":
        Path(db.path).parent.mkdir(parents=True, exist_ok=True)
        env |= {
            "PERSISTENCE_MODULE": SQLITE_FACTORY_TOPIC,
            "SQLITE_DBNAME": db.path,
            "SQLITE_LOCK_TIMEOUT": "60",
        }
        store = SQLiteViewStore(db.path)
    else:
        ensure_schema(db, settings.database_schema)
        env |= {
            "PERSISTENCE_MODULE": POSTGRES_FACTORY_TOPIC,
            "POSTGRES_DBNAME": db.dbname,
            "POSTGRES_HOST": db.host,
            "POSTGRES_PORT": str(db.port),
            "POSTGRES_USER": db.user,
            "POSTGRES_PASSWORD": db.password,
            "POSTGRES_SCHEMA": settings.database_schema,
            "POSTGRES_POOL_SIZE": str(settings.pool_size),
            "POSTGRES_MAX_OVERFLOW": "0",
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_PRE_PING": "y",
        }
        store = PostgresViewStore(
            pg_conninfo(db), schema=settings.database_schema, pool_size=settings.pool_size
        )
    clock = clock or system_clock
    index = DeadlineIndex(store)
    app = SafeLoop(
        env,
        policy=policy,
        due_items=index,
        due_reminders=index,
        due_timers=index,
        recording_clock=clock,
    )
    visits = SiteVisitIndex(store)
    app.visit_index = visits
    app.person_visits = visits
    app.certificate_index = CertificateIndexStore(store)
    runner = ProjectionRunner(
        app,
        store,
        [
            Boards(),
            Deadlines(policy.reminder_offsets_hours),
            Timeline(),
            SiteVisits(),
            Cases(),
            Scorecards(policy.timezone, policy.repeat_window_days),
            AuditChain(settings.seal_interval),
            Photos(),
            Notifications(
                base_url=settings.base_url,
                timezone=policy.timezone,
                channels=channel_config(settings).enabled(),
                default_channels=default_channels(settings),
            ),
            DigestFacts(),
            Certificates(policy.certificate_reminder_days),
            Training(policy.timezone),
            Checklists(),
            UrgentTimers(policy.timezone),
        ],
        batch_size=settings.projection_batch_size,
        poll_interval=settings.projection_poll_seconds,
    )
    runner.setup()
    return System(settings, app, store, runner, policy, clock)


def pg_conninfo(db: Database) -> dict[str, str | int]:
    info: dict[str, str | int] = {
        "host": db.host,
        "port": db.port,
        "user": db.user,
        "dbname": db.dbname,
    }
    if db.password:
        info["password"] = db.password
    return info


def ensure_schema(db: Database, schema: str) -> None:
    conninfo = make_conninfo("", **pg_conninfo(db))
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
