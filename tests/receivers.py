"""Local receivers for notification tests: an HTTP server (webhooks, group robots) and an
SMTP server (aiosmtpd), both on the loopback interface only, started by the tests."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

LOOPBACK = "127.0.0.1"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers.get("x-safeloop-dedup-key", "")


@dataclass
class HttpReceiver:
    """Records every POST. ``fail_first[path] = n`` answers 500 to the first n requests of a
    path; ``always_fail`` paths always answer 500; ``hold_after = n`` makes the (n+1)-th
    request wait on ``release`` before answering (to kill a sender mid-batch)."""

    received: list[Received] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    fail_first: dict[str, int] = field(default_factory=dict)
    always_fail: set[str] = field(default_factory=set)
    hold_after: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def dedup_keys(self, path: str | None = None) -> list[str]:
        with self.lock:
            return [r.key for r in self.received if path is None or r.path.startswith(path)]

    def on_request(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            base = path.split("?")[0]
            if base in self.always_fail or self.failures[base] < self.fail_first.get(base, 0):
                self.failures[base] += 1
                return 500
            self.received.append(Received(path, headers, body))
            hold = self.hold_after is not None and len(self.received) > self.hold_after
        if hold:
            self.held.set()
            self.release.wait(30)
        return 200


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.on_request(self.path, headers, body)
            base = self.path.split("?")[0]
            answer = {"code": 0, "msg": "success"} if base == "/feishu" else {"errcode": 0}
            payload = json.dumps(answer if status == 200 else {"error": "down"}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the sender went away (killed on purpose)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://{LOOPBACK}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class SmtpReceiver:
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def dedup_keys(self) -> list[str]:
        with self.lock:
            return [str(m["X-Safeloop-Dedup-Key"]) for m in self.messages]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        with self.lock:
            self.messages.append(message)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    receiver.port = free_port()
    controller = Controller(receiver, hostname=LOOPBACK, port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
