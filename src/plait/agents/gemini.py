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
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from plait.agents.base import (
    AgentErrorEvent,
    AgentEvent,
    TurnSpec,
)
from plait.agents.cli_backend import ProviderCLI
from plait.agents.env import clean_env
from plait.agents.failures import classify_failure
from plait.agents.stream import (
    DEFAULT_MAX_LINE,
    JsonLineDecoder,
    clip,
    compact_input,
    get_dict,
    get_int,
    get_str,
    new_error_event,
    new_final_result,
    new_session_started,
    new_text_out,
    new_tool_call,
    new_tool_result,
    new_usage,
)

# Google words every 429 as a "quota" problem; per-minute quotas are rate limits.
_PER_MINUTE = re.compile(r"per minute|per second|retry after \d+(?:\.\d+)?s\b", re.IGNORECASE)

# Gemini CLI's error types that name a failure class outright.
_ERROR_TYPES = {"FatalTurnLimitedError": "max_turns", "FatalAuthenticationError": "auth"}


class GeminiBackend(ProviderCLI):
    """Runs Gemini CLI headless with every tool auto-approved (`--yolo`).

    `config_home` becomes `GEMINI_CLI_HOME` (settings, sessions). `base_url` points the
    Gemini API at another endpoint (`GOOGLE_GEMINI_BASE_URL`) with `api_key` as
    `GEMINI_API_KEY`; the constructor then writes `config_home/.gemini/settings.json`
    selecting API-key auth (the CLI refuses the base-URL "gateway" auth otherwise) and
    `max_retries` (as `general.maxAttempts`).
    Reasoning effort and max turns are settings, not flags: ignored here.
    """

    name = "gemini"

    def __init__(
        self,
        executable: str = "gemini",
        model: str = "",
        extra_args: Sequence[str] = (),
        *,
        base_url: str = "",
        api_key: str = "",
        config_home: str = "",
        max_retries: int | None = None,
        pass_forge_token: bool = False,
    ) -> None:
        super().__init__(
            executable,
            model,
            extra_args,
            base_url=base_url,
            api_key=api_key,
            config_home=config_home,
            max_retries=max_retries,
            pass_forge_token=pass_forge_token,
        )
        if base_url:
            if not config_home:
                raise ValueError("GeminiBackend needs config_home to point at a base_url")
            general: dict[str, object] = {"disableAutoUpdate": True}
            if max_retries is not None:  # the CLI allows 1..10 attempts
                general["maxAttempts"] = min(10, max(1, max_retries + 1))
            settings = {
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "general": general,
                "privacy": {"usageStatisticsEnabled": False},
            }
            path = Path(config_home, ".gemini", "settings.json")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings))

    def argv(self, spec: TurnSpec) -> list[str]:
        argv = [self.executable, "-p", spec.prompt, "-o", "stream-json", "--yolo", "--skip-trust"]
        if model := spec.model or self.model:
            argv += ["-m", model]
        if spec.session_id:
            argv += ["--resume", spec.session_id]
        return argv + list(self.extra_args)

    def env(self, base: Mapping[str, str], spec: TurnSpec) -> dict[str, str]:
        env = clean_env(base, spec, pass_forge_token=self.pass_forge_token)
        # Some CLIs (opencode) take their directory from $PWD, not from their cwd.
        env["PWD"] = spec.workdir
        if self.config_home:
            env["GEMINI_CLI_HOME"] = self.config_home
        if self.base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = self.base_url
            env["GEMINI_API_KEY"] = self.api_key or "plait-no-key"
        return env

    def decoder(self) -> GeminiStreamDecoder:
        return GeminiStreamDecoder()


class GeminiStreamDecoder(JsonLineDecoder):
    """Pure decoder of `gemini -o stream-json` output (bounded memory)."""

    def __init__(
        self, *, max_line: int = DEFAULT_MAX_LINE, clock: Callable[[], float] | None = time.time
    ) -> None:
        super().__init__(max_line)
        self._clock = clock
        self._session = ""
        self._text: list[str] = []  # assistant text since the last tool call
        self._text_len = 0
        self._tools = 0
        self._error: AgentErrorEvent | None = None
        self._handlers = {
            "init": self._init,
            "message": self._message,
            "tool_use": self._tool_use,
            "tool_result": self._tool_result,
            "error": self._error_line,
            "result": self._result,
        }

    def _init(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        session = obj.get("session_id")
        if session and isinstance(session, str):
            self._session = session
            model = obj.get("model")
            model = model if isinstance(model, str) else ""
            out.append(new_session_started(session_id=session, model=model, raw=raw))

    # The handlers here read fields inline rather than through get_str (same result, a
    # function call less per field): they run for nearly every line (P6).
    def _message(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        said = obj.get("content")
        if said and isinstance(said, str) and obj.get("role") == "assistant":
            if self._text_len < 64_000:  # bounded: the reply is for people, not for storage
                self._text.append(said)
                self._text_len += len(said)
            out.append(new_text_out(text=said, raw=raw))

    def _tool_use(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        self._text, self._text_len = [], 0
        self._tools += 1
        call = obj.get("tool_id")
        name = obj.get("tool_name")
        out.append(
            new_tool_call(
                call_id=call if isinstance(call, str) else "",
                name=name if isinstance(name, str) else "tool",
                input=compact_input(obj.get("parameters")),
                raw=raw,
            )
        )

    def _tool_result(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        output = obj.get("output")
        if not output or not isinstance(output, str):
            output = get_str(get_dict(obj, "error"), "message")
        call = obj.get("tool_id")
        out.append(
            new_tool_result(
                call_id=call if isinstance(call, str) else "",
                output=clip(output),
                is_error=obj.get("status") != "success",
                raw=raw,
            )
        )

    def _error_line(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        message = get_str(obj, "message") or "error"
        failure, reset = self._classify(message)
        if obj.get("severity") == "error" and not failure:
            failure = "failed"
        event = new_error_event(message=clip(message), failure=failure, reset_at=reset, raw=raw)
        if event.failure:
            self._error = event
        out.append(event)

    def _classify(self, message: str) -> tuple[str, float | None]:
        failure, reset = classify_failure(message, clock=self._clock)
        if failure == "usage_limit" and _PER_MINUTE.search(message):
            failure = "rate_limit"
        return failure, reset

    def _result(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        stats = obj.get("stats")
        cached = get_int(stats, "cached")
        usage = new_usage(
            input_tokens=max(0, get_int(stats, "input_tokens") - cached),
            output_tokens=get_int(stats, "output_tokens"),
            cache_read_tokens=cached,
        )
        text = clip("".join(self._text), 8000)
        if obj.get("status") == "success":
            turns = self._tools + 1
            session = self._session
            ok = new_final_result(
                ok=True, text=text, session_id=session, usage=usage, raw=raw, num_turns=turns
            )
            out.append(ok)
            return
        error = get_dict(obj, "error")
        message = get_str(error, "message") or (self._error.message if self._error else "")
        failure, reset = self._classify(message)
        failure = _ERROR_TYPES.get(get_str(error, "type")) or failure
        if not failure and self._error is not None:
            failure, reset = self._error.failure, self._error.reset_at
        failed = new_final_result(
            ok=False,
            text=text,
            session_id=self._session,
            usage=usage,
            failure=failure or "failed",
            error=clip(message or "gemini reported an error"),
            reset_at=reset,
            raw=raw,
        )
        out.append(failed)
