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
from collections.abc import Mapping
from dataclasses import dataclass

from plait.agents import events, stream
from plait.agents.base import TurnSpec
from plait.agents.cli_backend import ProviderCLI, provider_option
from plait.agents.failures import classify_failure
from plait.core.model import Usage


class OpenCodeStreamDecoder(stream.JsonLineDecoder):
    """Pure decoder of `opencode run --format json` output (bounded memory)."""

    def _reset(self) -> None:
        self._last_reason = ""
        self._error: events.AgentErrorEvent | None = None
        # The steps' usage summed field by field, made a Usage once at the end: `Usage +`
        # builds a frozen dataclass per step (P6). Same sums, the cost rounded the same way.
        self._tokens = [0, 0, 0, 0, 0]
        self._cost = 0.0

    def _end(self, out: list[events.AgentEvent]) -> None:
        t = self._tokens
        self._usage = Usage(
            input_tokens=t[0],
            output_tokens=t[1],
            cache_read_tokens=t[2],
            cache_write_tokens=t[3],
            reasoning_tokens=t[4],
            cost_usd=self._cost,
        )
        if self._error is not None:
            final = events.FinalResult(
                ok=False,
                text=self._text,
                session_id=self._session,
                usage=self._usage,
                num_turns=self._turns,
                failure=self._error.failure or "failed",
                error=self._error.message,
                reset_at=self._error.reset_at,
            )
            out.append(final)
        elif self._last_reason and self._last_reason != "tool-calls":
            out.append(
                events.FinalResult(
                    ok=True,
                    text=self._text,
                    session_id=self._session,
                    usage=self._usage,
                    num_turns=self._turns,
                )
            )

    def _first_session(
        self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]
    ) -> None:
        if not self._session and (session := stream.get_str(obj, "sessionID")):
            self._session = session
            out.append(events.SessionStarted(session_id=session, raw=raw))

    def _text_line(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        part = obj.get("part")
        said = part.get("text") if part.__class__ is dict else None
        if said and isinstance(said, str):
            self._text = said
            out.append(events.TextOut(text=said, raw=raw))

    def _step_finish(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        part = stream.get_dict(obj, "part")
        self._turns += 1
        self._last_reason = stream.get_str(part, "reason")
        usage = _usage(part)
        t = self._tokens
        t[0] += usage.input_tokens
        t[1] += usage.output_tokens
        t[2] += usage.cache_read_tokens
        t[3] += usage.cache_write_tokens
        t[4] += usage.reasoning_tokens
        self._cost = round(self._cost + usage.cost_usd, 10)
        out.append(events.UsageReport(usage=usage, raw=raw))

    def _error_line(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        out.append(self._failed(stream.get_dict(obj, "error"), raw))

    def _tool(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        part = stream.get_dict(obj, "part")
        state = stream.get_dict(part, "state")
        call_id = stream.get_str(part, "callID") or stream.get_str(part, "id")
        name = stream.get_str(part, "tool", "tool")
        inp = stream.compact_input(state.get("input"))
        out.append(events.ToolCall(call_id=call_id, name=name, input=inp, raw=raw))
        status = state.get("status")
        if status == "completed" or status == "error":
            output = stream.get_str(state, "output") or stream.get_str(state, "error")
            is_error = status == "error"
            out.append(
                events.ToolResult(
                    call_id=call_id, output=stream.clip(output), is_error=is_error, raw=raw
                )
            )

    def _failed(self, error: dict[str, object], raw: str) -> events.AgentErrorEvent:
        data = stream.get_dict(error, "data")
        message = (
            stream.get_str(data, "message")
            or stream.get_str(error, "message")
            or stream.get_str(error, "name")
        )
        status = stream.get_int(data, "statusCode")
        text = f"{message} (HTTP {status})" if status else message
        failure, reset = classify_failure(
            f"{stream.get_str(error, 'name')}: {text}", clock=self._clock
        )
        if not failure and stream.get_str(error, "name") == "ProviderAuthError":
            failure = "auth"
        self._error = events.AgentErrorEvent(
            message=stream.clip(text or "opencode reported an error"),
            failure=failure or "failed",
            reset_at=reset,
            raw=raw,
        )
        return self._error

    handlers = stream.handler_table(
        {
            "text": _text_line,
            "tool_use": _tool,
            "step_finish": _step_finish,
            "error": _error_line,
        }
    )
    watch = _first_session


def _usage(part: dict[str, object]) -> Usage:
    tokens = stream.get_dict(part, "tokens")
    cache = stream.get_dict(tokens, "cache")
    return Usage(
        input_tokens=stream.get_int(tokens, "input"),
        output_tokens=stream.get_int(tokens, "output"),
        cache_read_tokens=stream.get_int(cache, "read"),
        cache_write_tokens=stream.get_int(cache, "write"),
        reasoning_tokens=stream.get_int(tokens, "reasoning"),
        cost_usd=stream.get_float(part, "cost"),
    )


@dataclass(frozen=True, kw_only=True)
class OpenCodeBackend(ProviderCLI):
    """Runs `opencode run` with permissions auto-approved (`--auto`).

    `base_url` (an Anthropic-Messages endpoint such as `http://127.0.0.1:PORT/v1`) adds a
    provider named `provider` through `OPENCODE_CONFIG_CONTENT`, so no file is written into
    the worktree; models are then `provider/model`. `config_home` isolates opencode's
    config, data (sessions) and cache directories (XDG_*) under one directory; resuming a
    session needs the same `config_home`. opencode has no max-turns flag.
    """

    name = "opencode"
    decoder_type = OpenCodeStreamDecoder
    provider: str = provider_option()

    def _model(self, spec: TurnSpec) -> str:
        model = spec.model or self.model
        if model and self.base_url and "/" not in model:
            model = f"{self.provider}/{model}"
        return model

    def argv(self, spec: TurnSpec) -> list[str]:
        argv = [self.program, "run", "--format", "json", "--auto", "--dir", spec.workdir]
        if model := self._model(spec):
            argv += ["-m", model]
        if spec.effort:
            argv += ["--variant", spec.effort]
        if spec.session_id:
            argv += ["--session", spec.session_id]
        return [*argv, *self.extra_args, "--", spec.prompt]

    def extra_env(self, spec: TurnSpec, env: Mapping[str, str]) -> Mapping[str, str]:
        extra = {"OPENCODE_DISABLE_AUTOUPDATE": "1"}
        if self.config_home:
            for var in ("CONFIG", "DATA", "CACHE", "STATE"):
                extra[f"XDG_{var}_HOME"] = f"{self.config_home}/{var.lower()}"
        if self.base_url:
            extra["OPENCODE_CONFIG_CONTENT"] = json.dumps(self._config(spec))
            extra["OPENCODE_DISABLE_MODELS_FETCH"] = "1"
        return extra

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
