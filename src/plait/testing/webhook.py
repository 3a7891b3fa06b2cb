"""A webhook receiver on loopback for tests: it records every POST (its headers and JSON
body) and answers with the status codes it is told to, in turn (then 200).

    with WebhookReceiver(answers=[500]) as hook:   # the first POST fails, the rest succeed
        ... notify to hook.url ...
        hook.wait_for(1)
        hook.delivered()                            # the bodies answered with 2xx
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from plait.testing.loopback import LoopbackHTTP


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    status: int  # what the receiver answered


class WebhookReceiver(LoopbackHTTP):
    def __init__(self, *, answers: Iterable[int] = ()) -> None:
        self.answers = list(answers)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        super().__init__(_handler(self))
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def _record(self, path: str, headers: dict[str, str], body: Any) -> int:
        with self._lock:
            status = self.answers.pop(0) if self.answers else 200
            self.received.append(Received(path, headers, body, status))
            return status

    def accept(self) -> None:
        """Answer every POST from now on with success."""
        with self._lock:
            self.answers.clear()

    def keys(self) -> list[str]:
        """The Idempotency-Key of every POST received, in order."""
        with self._lock:
            return [r.headers.get("Idempotency-Key", "") for r in self.received]

    def delivered(self) -> list[Received]:
        """What was received and answered with success."""
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def wait_for(self, n: int, *, timeout: float = 30.0) -> list[Received]:
        """Wait until `n` POSTs were answered with success; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while len(self.delivered()) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.delivered())} of {n} notifications arrived")
            time.sleep(0.05)
        return self.delivered()


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            status = receiver._record(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests

    return Handler
