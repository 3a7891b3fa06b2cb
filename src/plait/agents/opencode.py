"""OpenCode: `opencode run --format json …` and its stream decoder.

How the stream maps to events: every event carries `sessionID` (the first one seen →
SessionStarted); a `tool_use` event holds a finished tool part → ToolCall + ToolResult;
`text` → TextOut; `step_finish` holds one model step's tokens and cost → UsageReport (per
step, summed); `error` → AgentErrorEvent with a failure class.

opencode prints no final "result" event, so `close()` synthesizes the FinalResult at end
of stream: not ok after an `error` event; ok when the last step finished for a reason other
than `tool-calls` (the model stopped); nothing when the stream ended mid-step without an
error (the runner then judges by exit code).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

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
    get_float,
    get_int,
    get_str,
    new_error_event,
    new_final_result,
    new_session_started,
    new_text_out,
    new_tool_call,
    new_tool_result,
    new_usage,
    new_usage_report,
)
from plait.core.model import Usage


class OpenCodeBackend(ProviderCLI):
    """Runs `opencode run` with permissions auto-approved (`--auto`).

    `base_url` (an Anthropic-Messages endpoint such as `http://127.0.0.1:PORT/v1`) adds a
    provider named `provider` through `OPENCODE_CONFIG_CONTENT`, so no file is written into
    the worktree; models are then `provider/model`. `config_home` isolates opencode's
    config, data (sessions) and cache directories (XDG_*) under one directory; resuming a
    session needs the same `config_home`. opencode has no max-turns flag.
    """

    name = "opencode"

    def _model(self, spec: TurnSpec) -> str:
        model = spec.model or self.model
        if model and self.base_url and "/" not in model:
            model = f"{self.provider}/{model}"
        return model

    def argv(self, spec: TurnSpec) -> list[str]:
        argv = [self.executable, "run", "--format", "json", "--auto", "--dir", spec.workdir]
        if model := self._model(spec):
            argv += ["-m", model]
        if spec.effort:
            argv += ["--variant", spec.effort]
        if spec.session_id:
            argv += ["--session", spec.session_id]
        return [*argv, *self.extra_args, "--", spec.prompt]

    def env(self, base: Mapping[str, str], spec: TurnSpec) -> dict[str, str]:
        env = clean_env(base, spec, pass_forge_token=self.pass_forge_token)
        # Some CLIs (opencode) take their directory from $PWD, not from their cwd.
        env["PWD"] = spec.workdir
        env["OPENCODE_DISABLE_AUTOUPDATE"] = "1"
        if self.config_home:
            for var, sub in (("CONFIG", "config"), ("DATA", "data"), ("CACHE", "cache")):
                env[f"XDG_{var}_HOME"] = f"{self.config_home}/{sub}"
            env["XDG_STATE_HOME"] = f"{self.config_home}/state"
        if self.base_url:
            env["OPENCODE_CONFIG_CONTENT"] = json.dumps(self._config(spec))
            env["OPENCODE_DISABLE_MODELS_FETCH"] = "1"
        return env

    def _config(self, spec: TurnSpec) -> dict[str, object]:
        model = (spec.model or self.model or "plait-model").split("/")[-1]
        options: dict[str, object] = {"baseURL": self.base_url, "apiKey": self.api_key or "none"}
        if self.max_retries is not None:
            options["maxRetries"] = self.max_retries
        provider = {
            "npm": "@ai-sdk/anthropic",
            "name": self.provider,
            "options": options,
            "models": {model: {"name": model}},
        }
        return {
            "$schema": "https://opencode.ai/config.json",
            "provider": {self.provider: provider},
            "model": f"{self.provider}/{model}",
            "autoupdate": False,
            "share": "disabled",
        }

    def decoder(self) -> OpenCodeStreamDecoder:
        return OpenCodeStreamDecoder()


class OpenCodeStreamDecoder(JsonLineDecoder):
    """Pure decoder of `opencode run --format json` output (bounded memory)."""

    def __init__(
        self, *, max_line: int = DEFAULT_MAX_LINE, clock: Callable[[], float] | None = time.time
    ) -> None:
        super().__init__(max_line)
        self._clock = clock
        self._session = ""
        self._text = ""
        self._usage = new_usage()
        self._steps = 0
        self._last_reason = ""
        self._error: AgentErrorEvent | None = None
        self._handlers = {
            "text": self._text_line,
            "tool_use": self._tool,
            "step_finish": self._step_finish,
            "error": self._error_line,
        }
        self._watch = self._first_session

    def _end(self, out: list[AgentEvent]) -> None:
        if self._error is not None:
            final = new_final_result(
                ok=False,
                text=self._text,
                session_id=self._session,
                usage=self._usage,
                num_turns=self._steps,
                failure=self._error.failure or "failed",
                error=self._error.message,
                reset_at=self._error.reset_at,
            )
            out.append(final)
        elif self._last_reason and self._last_reason != "tool-calls":
            out.append(
                new_final_result(
                    ok=True,
                    text=self._text,
                    session_id=self._session,
                    usage=self._usage,
                    num_turns=self._steps,
                )
            )

    def _first_session(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        if not self._session and (session := get_str(obj, "sessionID")):
            self._session = session
            out.append(new_session_started(session_id=session, raw=raw))

    def _text_line(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        if said := get_str(get_dict(obj, "part"), "text"):
            self._text = said
            out.append(new_text_out(text=said, raw=raw))

    def _step_finish(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        part = get_dict(obj, "part")
        self._steps += 1
        self._last_reason = get_str(part, "reason")
        usage = _usage(part)
        self._usage += usage
        out.append(new_usage_report(usage=usage, raw=raw))

    def _error_line(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        out.append(self._failed(get_dict(obj, "error"), raw))

    def _tool(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        part = get_dict(obj, "part")
        state = get_dict(part, "state")
        call_id = get_str(part, "callID") or get_str(part, "id")
        name = get_str(part, "tool", "tool")
        inp = compact_input(state.get("input"))
        out.append(new_tool_call(call_id=call_id, name=name, input=inp, raw=raw))
        status = state.get("status")
        if status == "completed" or status == "error":
            output = get_str(state, "output") or get_str(state, "error")
            is_error = status == "error"
            out.append(
                new_tool_result(call_id=call_id, output=clip(output), is_error=is_error, raw=raw)
            )

    def _failed(self, error: dict[str, object], raw: str) -> AgentErrorEvent:
        data = get_dict(error, "data")
        message = get_str(data, "message") or get_str(error, "message") or get_str(error, "name")
        status = get_int(data, "statusCode")
        text = f"{message} (HTTP {status})" if status else message
        failure, reset = classify_failure(f"{get_str(error, 'name')}: {text}", clock=self._clock)
        if not failure and get_str(error, "name") == "ProviderAuthError":
            failure = "auth"
        self._error = new_error_event(
            message=clip(text or "opencode reported an error"),
            failure=failure or "failed",
            reset_at=reset,
            raw=raw,
        )
        return self._error


def _usage(part: dict[str, object]) -> Usage:
    tokens = get_dict(part, "tokens")
    cache = get_dict(tokens, "cache")
    return new_usage(
        input_tokens=get_int(tokens, "input"),
        output_tokens=get_int(tokens, "output"),
        cache_read_tokens=get_int(cache, "read"),
        cache_write_tokens=get_int(cache, "write"),
        reasoning_tokens=get_int(tokens, "reasoning"),
        cost_usd=get_float(part, "cost"),
    )
