"""Gemini CLI: `gemini -p … -o stream-json --yolo` and its stream decoder.

How the stream maps to events: `init` → SessionStarted; assistant `message` chunks
(`delta: true`) → TextOut; `tool_use` → ToolCall; `tool_result` → ToolResult; `error`
(severity warning or error) → AgentErrorEvent, classified; the final `result` →
FinalResult with `stats` as usage. `result` always ends a run that ends normally, so
`close()` synthesizes nothing: without it the runner judges by exit code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from plait.agents import events, stream
from plait.agents.base import TurnSpec
from plait.agents.cli_backend import ProviderCLI
from plait.agents.failures import classify_failure
from plait.core.model import Usage

# Google words every 429 as a "quota" problem; per-minute quotas are rate limits.
_PER_MINUTE = re.compile(r"per minute|per second|retry after \d+(?:\.\d+)?s\b", re.IGNORECASE)

# Gemini CLI's error types that name a failure class outright.
_ERROR_TYPES = {"FatalTurnLimitedError": "max_turns", "FatalAuthenticationError": "auth"}


class GeminiStreamDecoder(stream.JsonLineDecoder):
    """Pure decoder of `gemini -o stream-json` output (bounded memory)."""

    def _reset(self) -> None:
        self._said: list[str] = []  # assistant text since the last tool call
        self._said_len = 0
        self._tools = 0
        self._error: events.AgentErrorEvent | None = None

    def _init(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        session = obj.get("session_id")
        if session and isinstance(session, str):
            self._session = session
            model = obj.get("model")
            model = model if isinstance(model, str) else ""
            out.append(events.SessionStarted(session_id=session, model=model, raw=raw))

    # The handlers here read fields inline rather than through get_str (same result, a
    # function call less per field): they run for nearly every line (P6).
    def _message(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        said = obj.get("content")
        if said and isinstance(said, str) and obj.get("role") == "assistant":
            if self._said_len < 64_000:  # bounded: the reply is for people, not for storage
                self._said.append(said)
                self._said_len += len(said)
            out.append(events.TextOut(text=said, raw=raw))

    def _tool_use(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        self._said, self._said_len = [], 0
        self._tools += 1
        call = obj.get("tool_id")
        name = obj.get("tool_name")
        out.append(
            events.ToolCall(
                call_id=call if isinstance(call, str) else "",
                name=name if isinstance(name, str) else "tool",
                input=stream.compact_input(obj.get("parameters")),
                raw=raw,
            )
        )

    def _tool_result(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        output = obj.get("output")
        if not output or not isinstance(output, str):
            output = stream.get_str(stream.get_dict(obj, "error"), "message")
        call = obj.get("tool_id")
        out.append(
            events.ToolResult(
                call_id=call if isinstance(call, str) else "",
                output=stream.clip(output),
                is_error=obj.get("status") != "success",
                raw=raw,
            )
        )

    def _error_line(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        message = stream.get_str(obj, "message") or "error"
        failure, reset = self._classify(message)
        if obj.get("severity") == "error" and not failure:
            failure = "failed"
        event = events.AgentErrorEvent(
            message=stream.clip(message), failure=failure, reset_at=reset, raw=raw
        )
        if event.failure:
            self._error = event
        out.append(event)

    def _classify(self, message: str) -> tuple[str, float | None]:
        failure, reset = classify_failure(message, clock=self._clock)
        if failure == "usage_limit" and _PER_MINUTE.search(message):
            failure = "rate_limit"
        return failure, reset

    def _result(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        stats = obj.get("stats")
        cached = stream.get_int(stats, "cached")
        usage = Usage(
            input_tokens=max(0, stream.get_int(stats, "input_tokens") - cached),
            output_tokens=stream.get_int(stats, "output_tokens"),
            cache_read_tokens=cached,
        )
        text = stream.clip("".join(self._said), 8000)
        if obj.get("status") == "success":
            turns = self._tools + 1
            session = self._session
            ok = events.FinalResult(
                ok=True, text=text, session_id=session, usage=usage, raw=raw, num_turns=turns
            )
            out.append(ok)
            return
        error = stream.get_dict(obj, "error")
        message = stream.get_str(error, "message") or (self._error.message if self._error else "")
        failure, reset = self._classify(message)
        failure = _ERROR_TYPES.get(stream.get_str(error, "type")) or failure
        if not failure and self._error is not None:
            failure, reset = self._error.failure, self._error.reset_at
        failed = events.FinalResult(
            ok=False,
            text=text,
            session_id=self._session,
            usage=usage,
            failure=failure or "failed",
            error=stream.clip(message or "gemini reported an error"),
            reset_at=reset,
            raw=raw,
        )
        out.append(failed)

    handlers = stream.handler_table(
        {
            "init": _init,
            "message": _message,
            "tool_use": _tool_use,
            "tool_result": _tool_result,
            "error": _error_line,
            "result": _result,
        }
    )


@dataclass(frozen=True, kw_only=True)
class GeminiBackend(ProviderCLI):
    """Runs Gemini CLI headless with every tool auto-approved (`--yolo`).

    `config_home` becomes `GEMINI_CLI_HOME` (settings, sessions). `base_url` points the
    Gemini API at another endpoint (`GOOGLE_GEMINI_BASE_URL`) with `api_key` as
    `GEMINI_API_KEY`; `prepare_home` then writes `config_home/.gemini/settings.json`
    selecting API-key auth (the CLI refuses the base-URL "gateway" auth otherwise) and
    `max_retries` (as `general.maxAttempts`).
    Reasoning effort and max turns are settings, not flags: ignored here.
    """

    name = "gemini"
    decoder_type = GeminiStreamDecoder

    def prepare_home(self) -> None:
        if not self.base_url:
            return
        general: dict[str, object] = {"disableAutoUpdate": True}
        if self.max_retries is not None:  # the CLI allows 1..10 attempts
            general["maxAttempts"] = min(10, max(1, self.max_retries + 1))
        settings = {
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": general,
            "privacy": {"usageStatisticsEnabled": False},
        }
        path = self._home() / ".gemini" / "settings.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))

    def argv(self, spec: TurnSpec) -> list[str]:
        argv = [self.program, "-p", spec.prompt, "-o", "stream-json", "--yolo", "--skip-trust"]
        if model := spec.model or self.model:
            argv += ["-m", model]
        if spec.session_id:
            argv += ["--resume", spec.session_id]
        return argv + list(self.extra_args)

    def extra_env(self, spec: TurnSpec, env: Mapping[str, str]) -> Mapping[str, str]:
        extra = {"GEMINI_CLI_HOME": self.config_home} if self.config_home else {}
        if self.base_url:
            extra["GOOGLE_GEMINI_BASE_URL"] = self.base_url
            extra["GEMINI_API_KEY"] = self.api_key or "plait-no-key"
        return extra
