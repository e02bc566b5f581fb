"""Settings, from the environment (prefix ``SAFELOOP_``) or a ``.env`` file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SAFELOOP_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    #: sqlite:///path/to/file.db (relative to the working directory) or
    #: postgresql://user[:password]@host[:port]/dbname
    database_url: str = "sqlite:///./safeloop.db"
    #: PostgreSQL schema for events and read models
    database_schema: str = "public"
    #: bearer token with every right (for set-up and automation); unset: no admin token
    admin_token: SecretStr | None = None
    #: YAML file with the site policy (deadlines, escalation ladder, timezone)
    policy_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    #: run the scheduler (tick, digest) inside ``safeloop serve``
    scheduler: bool = True
    tick_interval_seconds: Annotated[int, Field(ge=1)] = 60
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    #: how long a command waits for the read models before answering (read-your-writes)
    read_your_writes_timeout: float = 10.0
    projection_batch_size: Annotated[int, Field(ge=1)] = 1000
    projection_poll_seconds: float = 1.0
    #: connections to PostgreSQL for the event store and for the read models, each
    pool_size: Annotated[int, Field(ge=1)] = 10
    #: largest request body accepted, in bytes
    max_body_bytes: int = 1_048_576
    #: the address users reach the server at (for links in notices)
    base_url: str = "http://127.0.0.1:8000"
    #: seal the audit hash chain every this many events
    seal_interval: Annotated[int, Field(ge=1)] = 1000
    #: a finding recorded this many hours after it occurred is flagged as a late entry
    late_entry_hours: Annotated[float, Field(gt=0)] = 24.0
    #: key that signs web session cookies; unset: a random key per process (sessions end on
    #: restart, and several server processes would not share sessions)
    secret_key: SecretStr | None = None
    #: the Secure flag of the session cookie: auto (when the request came over https, also
    #: through a proxy's X-Forwarded-Proto that uvicorn trusts), always, or never
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    #: how long a web session lasts
    session_hours: Annotated[float, Field(gt=0)] = 12
    #: where uploaded photos are stored (by content hash)
    upload_dir: Path = Path("./uploads")
    #: largest photo accepted, in bytes (JPEG, PNG or WebP)
    upload_max_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    #: OpenID Connect single sign-on: the issuer URL (unset: off)
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    #: the ID token claim that holds the person id of the organisation
    oidc_person_claim: str = "preferred_username"
    oidc_scope: str = "openid profile"

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        parse_database_url(value)
        return value

    @property
    def database(self) -> Database:
        return parse_database_url(self.database_url)


@dataclass(frozen=True)
class Database:
    kind: Literal["sqlite", "postgres"]
    #: SQLite file path
    path: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""


def parse_database_url(url: str) -> Database:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute.db, as in SQLAlchemy
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ""
        if not path:
            raise ValueError("sqlite URL needs a file path: sqlite:///./safeloop.db")
        return Database(kind="sqlite", path=path)
    if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        dbname = parts.path.lstrip("/")
        if not dbname:
            raise ValueError("postgresql URL needs a database name: postgresql://user@host/db")
        query = parse_qs(parts.query)
        return Database(
            kind="postgres",
            host=parts.hostname or query.get("host", ["127.0.0.1"])[0],
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=dbname,
        )
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r} (sqlite or postgresql)")
