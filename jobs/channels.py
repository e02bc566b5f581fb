"""Delivery channels: e-mail (SMTP), the group robots of WeCom, DingTalk and Feishu, and a
generic JSON webhook signed with HMAC-SHA256.

Every message carries its dedup key (``event|recipient|channel``) so a receiver can drop a
repeat: e-mail in ``Message-ID`` (derived from the key) and ``X-Safeloop-Dedup-Key``, the
webhooks in ``X-Safeloop-Dedup-Key`` and ``Idempotency-Key`` headers (and the generic
webhook's body). Group robots cannot drop repeats themselves; see the README.

The generic webhook is signed: ``X-Safeloop-Signature: t=<unix seconds>,v1=<hex>`` where
``<hex>`` is HMAC-SHA256 over ``"<t>.<raw body>"`` with the shared secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any, Protocol

from projections.outbox import Message

SIGNATURE_HEADER = "X-Safeloop-Signature"
DEDUP_HEADER = "X-Safeloop-Dedup-Key"


class DeliveryError(Exception):
    """A message could not be delivered this time (it will be retried)."""


class Channel(Protocol):
    def send(self, message: Message, now: datetime) -> None:
        """Deliver one message or raise DeliveryError."""


@dataclass(frozen=True)
class ChannelConfig:
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "safeloop@localhost"
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    wecom_url: str | None = None
    dingtalk_url: str | None = None
    dingtalk_secret: str | None = None
    feishu_url: str | None = None
    feishu_secret: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    timeout: float = 10.0

    def enabled(self) -> list[str]:
        """The external channels with enough settings to deliver."""
        names = []
        if self.smtp_host:
            names.append("email")
        for name, url in (
            ("webhook", self.webhook_url),
            ("wecom", self.wecom_url),
            ("dingtalk", self.dingtalk_url),
            ("feishu", self.feishu_url),
        ):
            if url:
                names.append(name)
        return names

    def channels(self) -> dict[str, Channel]:
        built: dict[str, Channel] = {}
        if self.smtp_host:
            built["email"] = EmailChannel(self)
        if self.webhook_url:
            built["webhook"] = WebhookChannel(self.webhook_url, self.webhook_secret, self.timeout)
        if self.wecom_url:
            built["wecom"] = WeComChannel(self.wecom_url, self.timeout)
        if self.dingtalk_url:
            built["dingtalk"] = DingTalkChannel(
                self.dingtalk_url, self.dingtalk_secret, self.timeout
            )
        if self.feishu_url:
            built["feishu"] = FeishuChannel(self.feishu_url, self.feishu_secret, self.timeout)
        return built


def message_id(dedup_key: str) -> str:
    """A Message-ID that is the same for every attempt of one dedup key."""
    return f"<{hashlib.sha256(dedup_key.encode()).hexdigest()[:40]}@safeloop>"


# -- e-mail ------------------------------------------------------------------------------------


class EmailChannel:
    def __init__(self, config: ChannelConfig) -> None:
        self.config = config

    def send(self, message: Message, now: datetime) -> None:
        if not message.address:
            raise DeliveryError("no e-mail address")
        c = self.config
        mail = EmailMessage()
        mail["From"] = formataddr(("safeloop", c.smtp_from))
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(now.timestamp(), localtime=False)
        mail["Message-ID"] = message_id(message.dedup_key)
        mail[DEDUP_HEADER] = message.dedup_key
        mail.set_content(message.body)
        assert c.smtp_host is not None
        try:
            smtp: smtplib.SMTP
            if c.smtp_ssl:
                smtp = smtplib.SMTP_SSL(c.smtp_host, c.smtp_port, timeout=c.timeout)
            else:
                smtp = smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.timeout)
            with smtp:
                if c.smtp_starttls and not c.smtp_ssl:
                    smtp.starttls()
                if c.smtp_user:
                    smtp.login(c.smtp_user, c.smtp_password or "")
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as e:
            raise DeliveryError(f"smtp: {type(e).__name__}: {e}") from e


# -- webhooks ----------------------------------------------------------------------------------


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def post_json(
    url: str,
    body: bytes,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> None:
    """POST a JSON body; raise DeliveryError on a network error, non-2xx or a refusal."""
    request = urllib.request.Request(  # noqa: S310 - the URL comes from the settings
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            text = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        raise DeliveryError(f"HTTP {e.code} from the receiver") from e
    except (urllib.error.URLError, OSError) as e:
        raise DeliveryError(f"{type(e).__name__}: {e}") from e
    if check is not None:
        try:
            answer = json.loads(text) if text else {}
        except json.JSONDecodeError:
            raise DeliveryError(f"the receiver answered with no JSON: {text[:200]!r}") from None
        problem = check(answer)
        if problem:
            raise DeliveryError(problem)


def _dedup_headers(message: Message) -> dict[str, str]:
    return {DEDUP_HEADER: message.dedup_key, "Idempotency-Key": message.dedup_key}


def _errcode(answer: Any) -> str | None:
    """WeCom and DingTalk answer 200 with ``errcode`` 0 on success."""
    if isinstance(answer, dict) and answer.get("errcode", 0) not in (0, "0"):
        return f"refused: errcode {answer.get('errcode')}: {answer.get('errmsg')}"
    return None


def _feishu_code(answer: Any) -> str | None:
    if isinstance(answer, dict):
        code = answer.get("code", answer.get("StatusCode", 0))
        if code not in (0, "0"):
            return f"refused: code {code}: {answer.get('msg') or answer.get('StatusMessage')}"
    return None


def text_of(message: Message) -> str:
    return message.body


class WeComChannel:
    """企业微信群机器人: a text message, mentioning recipients by mobile number."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, message: Message, now: datetime) -> None:
        payload = {
            "msgtype": "text",
            "text": {"content": text_of(message), "mentioned_mobile_list": message.mentions},
        }
        post_json(
            self.url,
            encode(payload),
            timeout=self.timeout,
            headers=_dedup_headers(message),
            check=_errcode,
        )


class DingTalkChannel:
    """钉钉群机器人: a text message with @mobiles; signed (加签) when a secret is set."""

    def __init__(self, url: str, secret: str | None, timeout: float) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def signed_url(self, now: datetime) -> str:
        if not self.secret:
            return self.url
        timestamp = str(int(now.timestamp() * 1000))
        digest = hmac.new(
            self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256
        ).digest()
        sign = urllib.parse.quote_plus(base64.b64encode(digest))
        joiner = "&" if "?" in self.url else "?"
        return f"{self.url}{joiner}timestamp={timestamp}&sign={sign}"

    def send(self, message: Message, now: datetime) -> None:
        mentions = " ".join(f"@{m}" for m in message.mentions)
        payload = {
            "msgtype": "text",
            "text": {"content": f"{text_of(message)}\n{mentions}".rstrip()},
            "at": {"atMobiles": message.mentions, "isAtAll": False},
        }
        post_json(
            self.signed_url(now),
            encode(payload),
            timeout=self.timeout,
            headers=_dedup_headers(message),
            check=_errcode,
        )


class FeishuChannel:
    """飞书群机器人: a text message; signed (签名校验) when a secret is set."""

    def __init__(self, url: str, secret: str | None, timeout: float) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def payload(self, message: Message, now: datetime) -> dict[str, Any]:
        payload: dict[str, Any] = {"msg_type": "text", "content": {"text": text_of(message)}}
        if self.secret:
            timestamp = str(int(now.timestamp()))
            key = f"{timestamp}\n{self.secret}".encode()
            sign = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            payload = {"timestamp": timestamp, "sign": sign, **payload}
        return payload

    def send(self, message: Message, now: datetime) -> None:
        post_json(
            self.url,
            encode(self.payload(message, now)),
            timeout=self.timeout,
            headers=_dedup_headers(message),
            check=_feishu_code,
        )


class WebhookChannel:
    """A generic JSON webhook (one POST per recipient), signed with HMAC-SHA256."""

    def __init__(self, url: str, secret: str | None, timeout: float) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def send(self, message: Message, now: datetime) -> None:
        payload = {
            "dedup_key": message.dedup_key,
            "kind": message.kind,
            "recipient": message.recipient,
            "language": message.language,
            "title": message.subject,
            "text": message.body,
            "link": message.link,
            "hazard_id": message.hazard_id,
            "created_at": message.created_at,
        }
        body = encode(payload)
        headers = _dedup_headers(message)
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body, int(now.timestamp()))
        post_json(self.url, body, timeout=self.timeout, headers=headers)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The generic webhook's signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, now: int, tolerance: int = 300) -> bool:
    """Check a signature header as a receiver would (the README shows the same steps)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp)
    return hmac.compare_digest(expected, header)
