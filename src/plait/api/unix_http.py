"""HTTP/1.1 to a running engine over its Unix socket, from the standard library.

The CLI's live client (`plait.api.client.LiveAPI`) asks the engine a question or two per
command, and an agent runs `plait ps` or `plait send` inside its turn while the engine
runs: importing httpx for that cost ~0.1 s of CPU, about as much as the rest of such a
command, where `http.client` costs a few milliseconds. Each request has a connection of
its own (a Unix socket connects in microseconds), so no reply ever comes on a connection
the engine has closed meanwhile. The TUI's async client (`plait.api.aclient`) keeps httpx.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

# What a failed exchange raises: the socket's errors (gone, refused, timed out) and a
# reply cut short or malformed.
FAILED = (OSError, http.client.HTTPException)


class Reply:
    """A whole reply: its status and its body."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class UnixHTTP:
    def __init__(self, path: str, *, timeout: float) -> None:
        self.path = path
        self.timeout = timeout

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: object = None,
    ) -> Reply:
        """One request and its whole reply; raises one of `FAILED`."""
        body = None if json is None else _dumps(json)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn = _Connection(self.path, self.timeout)
        try:
            conn.request(method, _with_query(url, params), body=body, headers=headers)
            reply = conn.getresponse()
            return Reply(reply.status, reply.read())
        finally:
            conn.close()

    def lines(self, url: str) -> Iterator[str]:
        """The lines of a streamed reply (no timeout) until the engine ends it; raises one
        of `FAILED`."""
        conn = _Connection(self.path, None)
        try:
            conn.request("GET", url)
            reply = conn.getresponse()
            while raw := reply.readline():
                yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
        finally:
            conn.close()


class _Connection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("plait", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _with_query(url: str, params: Mapping[str, str | int] | None) -> str:
    return f"{url}?{urlencode(params)}" if params else url


def _dumps(obj: object) -> bytes:
    return json.dumps(obj).encode()
