"""A local model API that real agent CLIs can be pointed at: it plays a script.

    script = [shell_turn("echo hi > a.txt && git add a.txt && git commit -qm a")]
    with ModelAPIDouble(script) as api:
        env["ANTHROPIC_BASE_URL"] = api.url       # or a codex provider at api.url + "/v1"
        ...run the CLI...
        assert api.model_requests()[0].turn == 0

How this works: a stdlib `ThreadingHTTPServer` on 127.0.0.1 (random port) runs in a
background thread, so sync and async tests use it alike. It speaks Anthropic Messages
(`/v1/messages`, SSE and JSON), OpenAI Responses (`/v1/responses`, SSE) and the Gemini API
(`…:streamGenerateContent`, `…:generateContent`); model-listing endpoints answer with the
requested model. Each model request is read into a `Conversation`: a user prompt not seen
before starts the next scripted `Turn`; a request ending in tool results gets the turn's
next step (another shell call, then the final text); a prompt seen before (a retry) replays
its turn, so injected faults never skip a step. Requests without tools are side requests
(titles, summaries) and get a short text without touching the script. Faults queued with
`inject()` apply, in order, to the next model requests that carry tools.

Concurrent agents: `routes={marker: [Turn, ...]}` (or `add_route`) gives every conversation
whose user messages contain `marker` — say a task's title, which plait's prompts render —
its own script, played in order whatever the other agents do; the rest share `turns`.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from plait.testing import model_api_anthropic as anthropic
from plait.testing import model_api_gemini as gemini
from plait.testing import model_api_openai as openai
from plait.testing.model_api_script import (
    DEFAULT_USAGE,
    Conversation,
    Fault,
    Recorded,
    ScriptState,
    Shell,
    Step,
    TextStep,
    Turn,
    shell_turn,
)

__all__ = ["Fault", "ModelAPIDouble", "Recorded", "Shell", "Turn", "shell_turn"]

_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"})
_DIALECTS: dict[str, Any] = {"anthropic": anthropic, "responses": openai, "gemini": gemini}


def _dialect(path: str) -> str:
    if path.endswith("/messages"):
        return "anthropic"
    if path.endswith("/responses"):
        return "responses"
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return "gemini"
    return ""


class ModelAPIDouble:
    """The server. Start/stop it with `with` (or `start()`/`stop()`)."""

    def __init__(
        self,
        turns: Iterable[Turn] = (),
        *,
        routes: Mapping[str, Iterable[Turn]] | None = None,
        aux_text: str = "Plait test",
    ) -> None:
        self.aux_text = aux_text
        self._lock = threading.Lock()
        self._script = ScriptState(list(turns))
        for marker, route_turns in (routes or {}).items():
            self._script.routes[_marker(marker)] = list(route_turns)
        self._faults: deque[Fault] = deque()
        self._requests: list[Recorded] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = 0

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> ModelAPIDouble:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.double = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases stalled connections
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> ModelAPIDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "ModelAPIDouble is not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL without a path (`http://127.0.0.1:PORT`); add `/v1` where a CLI wants it."""
        return f"http://127.0.0.1:{self.port}"

    # ---- script, faults, records -------------------------------------------------------
    def add_turns(self, *turns: Turn) -> None:
        with self._lock:
            self._script.turns.extend(turns)

    def add_route(self, marker: str, *turns: Turn) -> None:
        """Play `turns` (after any already routed there) to conversations naming `marker`."""
        with self._lock:
            self._script.routes.setdefault(_marker(marker), []).extend(turns)

    def inject(self, *faults: Fault) -> None:
        """Fail the next len(faults) model requests (with tools), one fault each, in order."""
        with self._lock:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def model_requests(self) -> list[Recorded]:
        """Requests that were answered from the script or failed by a fault."""
        return [r for r in self.requests if r.turn is not None or r.fault]

    @property
    def turns_started(self) -> int:
        """Turns begun on the shared script (see `route_turns_started` for routes)."""
        with self._lock:
            return self._script.next_turn

    def route_turns_started(self, marker: str) -> int:
        with self._lock:
            return self._script.started.get(marker, 0)

    @property
    def exhausted(self) -> int:
        """How many requests arrived after the script ran out of turns."""
        with self._lock:
            return self._script.exhausted

    # ---- used by the handler -------------------------------------------------------------
    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self._requests.append(rec)

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}_{self._ids:06d}"

    def _plan(self, conv: Conversation) -> tuple[Fault | None, Step | None]:
        """The fault to inject, else the scripted step (None for a side request)."""
        with self._lock:
            if not conv.has_tools:
                return None, None
            if self._faults:
                return self._faults.popleft(), None
            return None, self._script.step_for(conv)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    @property
    def double(self) -> ModelAPIDouble:
        return self.server.double  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log; requests are recorded instead."""

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items() if k.lower() not in _SECRET_HEADERS}

    def _body(self) -> Mapping[str, Any] | None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        encoding = (self.headers.get("content-encoding") or "").lower()
        try:
            if encoding == "gzip":
                raw = gzip.decompress(raw)
            elif encoding == "deflate":
                raw = zlib.decompress(raw)
            value = json.loads(raw) if raw else None
        except (ValueError, OSError, zlib.error):
            return None
        return value if isinstance(value, dict) else None

    # ---- verbs -------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.double._record(Recorded("GET", self.path, self._headers(), None))
        if path.rstrip("/").endswith("/models"):
            self._json(200, _model_list(path))
        else:
            self._json(404, {"error": {"message": f"no such endpoint {path}"}})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        dialect = _dialect(path)
        if path.endswith("/count_tokens"):
            self.double._record(Recorded("POST", self.path, self._headers(), body))
            self._json(200, {"input_tokens": 100, "totalTokens": 100})
            return
        if not dialect or body is None:
            self.double._record(Recorded("POST", self.path, self._headers(), body, dialect))
            self._json(404 if not dialect else 400, {"error": {"message": "not understood"}})
            return
        wire = _DIALECTS[dialect]
        conv: Conversation = wire.read(body)
        if dialect == "gemini":
            conv = gemini.with_stream_flag(conv, path)
        fault, step = self.double._plan(conv)
        headers = self._headers()
        if fault is not None:
            self.double._record(
                Recorded("POST", self.path, headers, body, dialect, None, fault.kind)
            )
            self._fail(wire, fault, conv)
            return
        turn = None if step is None else step.turn
        route = "" if step is None else step.route
        aux = step is None
        if step is None:
            step = TextStep(-1, self.double.aux_text, DEFAULT_USAGE)
        self.double._record(
            Recorded("POST", self.path, headers, body, dialect, turn, "", aux, route)
        )
        model = str((body.get("model") or "") if dialect != "gemini" else gemini.model(path))
        resp_id = self.double._next_id("resp" if dialect != "anthropic" else "msg")
        if conv.stream:
            self._stream(wire.stream(step, conv, model, resp_id))
        else:
            self._json(200, _nonstream(wire, step, conv, model, resp_id))

    # ---- responses -----------------------------------------------------------------------
    def _json(self, status: int, body: object, extra: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("connection", "close")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _stream(self, frames: list[bytes], *, cut_after: int | None = None) -> None:
        """Send SSE frames as HTTP chunks. `cut_after` frames, the stream breaks off
        without the terminating chunk, which clients see as a dropped connection."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        for n, frame in enumerate(frames):
            if cut_after is not None and n >= cut_after:
                self.wfile.flush()
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _fail(self, wire: Any, fault: Fault, conv: Conversation) -> None:
        if fault.kind in ("drop", "stall"):
            step = TextStep(-1, "partial", DEFAULT_USAGE)
            frames = wire.stream(step, conv, "model", self.double._next_id("cut"))
            # Break off after the first event, or before any when the whole answer would
            # fit in one (Gemini): a client must never get a complete answer here.
            self._stream(frames, cut_after=1 if len(frames) > 2 else 0)
            if fault.kind == "stall":
                self.double._stopping.wait(fault.stall_seconds)
            return
        status, body = wire.error(fault)
        self._json(status, body, _limit_headers(fault) if status in (429, 503, 529) else None)


def _nonstream(wire: Any, step: Step, conv: Conversation, model: str, resp_id: str) -> object:
    if wire is anthropic:
        return anthropic.message(step, conv, model, resp_id)
    if wire is gemini:
        return gemini.response(step, conv, model)
    return openai.response(step, conv, model, resp_id)


def _marker(marker: str) -> str:
    if not marker.strip():
        raise ValueError("a route marker must be non-empty text (e.g. a task's title)")
    return marker


def _limit_headers(fault: Fault) -> dict[str, str]:
    """`retry-after` plus the reset headers Anthropic and OpenAI send with a 429."""
    reset = datetime.fromtimestamp(time.time() + fault.reset_in, tz=UTC)
    stamp = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
    seconds = f"{max(1, round(fault.reset_in))}"
    return {
        "retry-after": seconds,
        "anthropic-ratelimit-requests-reset": stamp,
        "anthropic-ratelimit-tokens-reset": stamp,
        "anthropic-ratelimit-input-tokens-reset": stamp,
        "x-ratelimit-reset-requests": f"{seconds}s",
        "x-ratelimit-reset-tokens": f"{seconds}s",
    }


def _model_list(path: str) -> dict[str, Any]:
    names = ["plait-fake", "claude-fake", "gpt-fake", "gemini-fake"]
    if "v1beta" in path:
        return {"models": [{"name": f"models/{n}", "displayName": n} for n in names]}
    data = [
        {"id": n, "object": "model", "type": "model", "display_name": n, "created": 0}
        for n in names
    ]
    return {"object": "list", "data": data, "has_more": False}
