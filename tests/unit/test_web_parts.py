"""Parts of the pages without a server: accounts as events, the login throttle, photos,
sessions and the message catalogue."""

from __future__ import annotations

import copy
import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from starlette.requests import Request

from api.web import i18n
from api.web.passwords import WeakPassword, hash_password, verify_password
from api.web.session import COOKIE, SessionCodec, WebSession
from api.web.throttle import LoginThrottle
from api.web.uploads import PhotoStore, references, sniff
from domain.accounts import Account
from domain.application import SafeLoop
from domain.errors import InvalidCommand, NotFound
from tests.conftest import ORG

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64


# -- accounts ----------------------------------------------------------------------------------


def test_passwords_are_kept_as_events_and_a_change_ends_old_sessions() -> None:
    app = SafeLoop()
    app.load_org(copy.deepcopy(ORG), actor="admin", now=T0)
    with pytest.raises(NotFound):
        app.set_password_hash("nobody", "h", actor="admin", now=T0)
    app.set_password_hash("u1", "hash-1", actor="admin", now=T0)
    account = app.account("u1")
    assert account is not None and account.generation == 1 and not account.is_admin
    app.set_password_hash("u1", "hash-2", actor="u1", now=T0 + timedelta(hours=1), admin=True)
    app.choose_language("u1", "en", actor="u1", now=T0 + timedelta(hours=2))
    with pytest.raises(InvalidCommand):
        app.choose_language("u1", "fr", actor="u1", now=T0 + timedelta(hours=2))
    account = app.account("u1")
    assert account is not None
    assert (account.password_hash, account.generation, account.is_admin, account.language) == (
        "hash-2",
        3,  # two passwords and the admin flag
        True,
        "en",
    )
    # who had access, and when, is in the log: an auditor reads it event by event
    events = list(app.events.get(account.id))
    assert [type(e).__name__ for e in events] == [
        "Opened",
        "PasswordSet",
        "PasswordSet",
        "AdminChanged",
        "LanguageChosen",
    ]
    assert [e.actor for e in events[1:3]] == ["admin", "u1"]
    app.remove_password("u1", reason="left", actor="admin", now=T0 + timedelta(hours=3))
    removed = app.account("u1")
    assert removed is not None and removed.password_hash is None and removed.generation == 4
    assert isinstance(removed, Account)


def test_argon2_hashes_verify_and_weak_passwords_are_refused() -> None:
    digest = hash_password("correct horse")
    assert digest.startswith("$argon2id$") and "correct horse" not in digest
    assert verify_password(digest, "correct horse")
    assert not verify_password(digest, "wrong horse")
    assert not verify_password(None, "correct horse")  # unknown person
    assert not verify_password("not a hash", "correct horse")
    with pytest.raises(WeakPassword):
        hash_password("short")


# -- throttle ----------------------------------------------------------------------------------


def test_wrong_passwords_are_slowed_down_by_decision() -> None:
    throttle = LoginThrottle(free_failures=3, base_seconds=2, max_seconds=60)
    now = T0
    for _ in range(3):
        assert throttle.wait("u1", now) == 0
        throttle.failed("u1", now)
    # the third failure already costs a wait, doubling with each further one
    assert throttle.wait("u1", now) == 2
    assert throttle.wait("u1", now + timedelta(seconds=1)) == 1
    assert throttle.wait("u1", now + timedelta(seconds=2)) == 0
    now += timedelta(seconds=2)
    throttle.failed("u1", now)
    assert throttle.wait("u1", now) == 4
    for _ in range(10):
        throttle.failed("u1", now)
    assert throttle.wait("u1", now) == 60  # capped
    assert throttle.wait("someone else", now) == 0
    throttle.succeeded("u1")
    assert throttle.wait("u1", now) == 0


def test_the_throttle_forgets_old_failures() -> None:
    throttle = LoginThrottle(free_failures=1, base_seconds=10, forget_after=timedelta(minutes=5))
    throttle.failed("k", T0)
    throttle.failed("k", T0)
    assert throttle.wait("k", T0) == 20
    assert throttle.wait("k", T0 + timedelta(minutes=6)) == 0


# -- photos ------------------------------------------------------------------------------------


def test_photos_are_stored_by_content_hash_with_type_and_size_limits(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path, max_bytes=1024)
    ref = store.save(io.BytesIO(PNG))
    digest = hashlib.sha256(PNG).hexdigest()
    assert ref == f"photo:{digest}.png"
    assert (tmp_path / digest[:2] / f"{digest}.png").read_bytes() == PNG
    assert store.save(io.BytesIO(PNG)) == ref  # the same bytes are stored once
    assert store.find(f"{digest}.png") is not None
    assert store.find("../../etc/passwd") is None
    assert store.find(f"{digest}.jpg") is None
    with pytest.raises(InvalidCommand) as wrong_type:
        store.save(io.BytesIO(b"<svg onload=alert(1)>" + b" " * 40))
    assert wrong_type.value.field == "photos"
    with pytest.raises(InvalidCommand):
        store.save(io.BytesIO(JPEG + b"\x00" * 2000))  # larger than the limit
    assert sniff(JPEG) == "jpg" and sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert references(f"see {ref} and photo:{'0' * 64}.gif") == [f"{digest}.png"]


# -- sessions ----------------------------------------------------------------------------------


def _request(cookie: str | None, scheme: str = "http") -> Request:
    headers = [(b"host", b"mine.example")]
    if cookie:
        headers.append((b"cookie", f"{COOKIE}={cookie}".encode()))
    return Request(
        {"type": "http", "headers": headers, "scheme": scheme, "path": "/", "query_string": b""}
    )


def test_a_tampered_or_foreign_session_cookie_is_an_anonymous_session() -> None:
    codec = SessionCodec("secret", 3600)
    session = WebSession()
    session.sign_in("u1", 1, "password")
    token = codec.serializer.dumps({"csrf": session.csrf, "person": "u1", "generation": 1})
    assert codec.load(_request(token)).person == "u1"
    assert codec.load(_request(token[:-2] + "xx")).person is None
    other = SessionCodec("another secret", 3600)
    assert other.load(_request(token)).person is None
    assert codec.secure(_request(None, "https")) and not codec.secure(_request(None))
    assert SessionCodec("s", 60, "always").secure(_request(None))


# -- languages ---------------------------------------------------------------------------------


def test_every_message_of_the_pages_has_a_chinese_translation() -> None:
    root = Path(i18n.__file__).parent
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    messages = {
        m[2] if isinstance(m[2], str) else m[2][0]
        for m in extract_from_dir(
            str(root), method_map, keywords={"_": None, "N_": None, "gettext": None}
        )
    }
    assert len(messages) > 100
    zh = i18n.translations("zh")
    untranslated = sorted(m for m in messages if zh.gettext(m) == m)
    assert untranslated == []
    en = i18n.translations("en")
    assert en.gettext("Sign in") == "Sign in"
    lang = i18n.Lang("zh", i18n.ZoneInfo("Asia/Shanghai"))
    assert lang.time(T0) == "2026-11-02 08:00"  # the site's timezone
    assert lang.countdown(T0 + timedelta(hours=3), T0) == "剩余 3小时"
    assert "逾期" in lang.countdown(T0 - timedelta(days=2), T0)
