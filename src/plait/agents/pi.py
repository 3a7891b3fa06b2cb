"""Pi: `pi -p --mode json …` and its stream decoder.

How the stream maps to events: `session` → SessionStarted; a finished assistant message
(`message_end`) → TextOut / ToolCall per content block and a UsageReport for its usage;
`tool_execution_end` → ToolResult; `auto_retry_start` (pi retrying a provider error) →
AgentErrorEvent, classified; `auto_retry_end` with `success: false` is final.

pi exits 0 even when the run failed, and prints no final "result" event, so `close()`
synthesizes the FinalResult from the last assistant message once the agent ended
(`agent_end`): its `stopReason` "error"/"aborted" (or a failed auto-retry) → not ok, with
the failure class of its `errorMessage`; "length" → not ok ("failed"); otherwise ok.
Without `agent_end` nothing is synthesized and the runner judges by exit code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from plait.agents.base import (
    AgentErrorEvent,
    AgentEvent,
    FinalResult,
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
    content_text,
    get_bool,
    get_dict,
    get_float,
    get_int,
    get_list,
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


class PiBackend(ProviderCLI):
    """Runs `pi -p --mode json --offline` (pi asks no permissions in print mode).

    `config_home` becomes `PI_CODING_AGENT_DIR` (settings, models, sessions). With
    `base_url` (an Anthropic-Messages endpoint without `/v1`) the constructor writes a
    provider named `provider` into `config_home/models.json`, and `max_retries` into
    `settings.json` (pi's own retries; the SDK's are turned off). pi has no max-turns flag.
    """

    name = "pi"

    def __init__(
        self,
        executable: str = "pi",
        model: str = "",
        extra_args: Sequence[str] = (),
        *,
        base_url: str = "",
        api_key: str = "",
        config_home: str = "",
        provider: str = "plait",
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
            provider=provider,
            max_retries=max_retries,
            pass_forge_token=pass_forge_token,
        )
        if base_url:
            if not config_home:
                raise ValueError("PiBackend needs config_home to hold a custom provider")
            self._write_config(api_key, max_retries)

    def _write_config(self, api_key: str, max_retries: int | None) -> None:
        home = Path(self.config_home)
        home.mkdir(parents=True, exist_ok=True)
        model = (self.model or "plait-model").split("/")[-1]
        provider = {
            "baseUrl": self.base_url,
            "api": "anthropic-messages",
            "apiKey": api_key or "none",
            "models": [{"id": model}],
        }
        (home / "models.json").write_text(json.dumps({"providers": {self.provider: provider}}))
        if max_retries is not None:
            retry = {
                "enabled": max_retries > 0,
                "maxRetries": max_retries,
                "baseDelayMs": 200,
                "provider": {"maxRetries": 0},
            }
            (home / "settings.json").write_text(json.dumps({"retry": retry}))

    def argv(self, spec: TurnSpec) -> list[str]:
        argv = [self.executable, "-p", "--mode", "json", "--offline"]
        model = spec.model or self.model
        if model:
            slash = self.base_url and "/" not in model
            argv += ["--model", f"{self.provider}/{model}" if slash else model]
        if spec.effort:
            argv += ["--thinking", spec.effort]
        if spec.session_id:
            argv += ["--session", spec.session_id]
        return [*argv, *self.extra_args, spec.prompt]

    def env(self, base: Mapping[str, str], spec: TurnSpec) -> dict[str, str]:
        env = clean_env(base, spec, pass_forge_token=self.pass_forge_token)
        # Some CLIs (opencode) take their directory from $PWD, not from their cwd.
        env["PWD"] = spec.workdir
        env["PI_OFFLINE"] = "1"
        if self.config_home:
            env["PI_CODING_AGENT_DIR"] = self.config_home
        return env

    def decoder(self) -> PiStreamDecoder:
        return PiStreamDecoder()


class PiStreamDecoder(JsonLineDecoder):
    """Pure decoder of `pi --mode json` output (bounded memory)."""

    def __init__(
        self, *, max_line: int = DEFAULT_MAX_LINE, clock: Callable[[], float] | None = time.time
    ) -> None:
        super().__init__(max_line)
        self._clock = clock
        self._session = ""
        self._text = ""
        self._usage = new_usage()
        self._turns = 0
        self._ended = False
        self._stop = ""  # stopReason of the last assistant message
        self._error = ""  # its errorMessage
        self._retry_failed = ""
        self._handlers = {
            "session": self._session_line,
            "message_end": self._message_end,
            "tool_execution_end": self._tool_end,
            "auto_retry_start": self._retry_start,
            "auto_retry_end": self._retry_end,
            "agent_start": self._agent_start,
            "agent_end": self._agent_end,
        }

    def _end(self, out: list[AgentEvent]) -> None:
        if self._ended:
            out.append(self._final())

    def _final(self) -> FinalResult:
        error = self._retry_failed or (self._error if self._stop in ("error", "aborted") else "")
        if self._stop == "length" and not error:
            error = "the model stopped at its output token limit"
        failure, reset = classify_failure(error, clock=self._clock) if error else ("", None)
        if error and not failure:
            failure = "crash" if self._stop == "aborted" else "failed"
        return new_final_result(
            ok=not error,
            text=self._text,
            session_id=self._session,
            usage=self._usage,
            num_turns=self._turns,
            failure=failure,
            error=clip(error),
            reset_at=reset,
        )

    def _session_line(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        if session := get_str(obj, "id"):
            self._session = session
            out.append(new_session_started(session_id=session, raw=raw))

    def _message_end(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        self._message(get_dict(obj, "message"), raw, out)

    def _tool_end(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        content = get_dict(obj, "result").get("content")
        result = new_tool_result(
            call_id=get_str(obj, "toolCallId"),
            output=content_text(content),
            is_error=get_bool(obj, "isError"),
            raw=raw,
        )
        out.append(result)

    def _retry_start(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        out.append(self._error_event(get_str(obj, "errorMessage"), raw))

    def _retry_end(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        if not get_bool(obj, "success", True):
            self._retry_failed = get_str(obj, "finalError") or "pi gave up retrying"
            out.append(self._error_event(self._retry_failed, raw))

    def _agent_start(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        self._ended = False

    def _agent_end(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        self._ended = True

    def _error_event(self, message: str, raw: str) -> AgentErrorEvent:
        failure, reset = classify_failure(message, clock=self._clock)
        return new_error_event(message=clip(message), failure=failure, reset_at=reset, raw=raw)

    def _message(self, message: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        if message.get("role") != "assistant":
            return
        self._turns += 1
        self._stop = get_str(message, "stopReason")
        self._error = get_str(message, "errorMessage")
        for block in get_list(message, "content"):
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text" and (said := get_str(block, "text")):
                self._text = said
                out.append(new_text_out(text=said, raw=raw))
            elif kind == "toolCall":
                call = new_tool_call(
                    call_id=get_str(block, "id"),
                    name=get_str(block, "name", "tool"),
                    input=compact_input(block.get("arguments")),
                    raw=raw,
                )
                out.append(call)
        usage = get_dict(message, "usage")
        if usage:
            report = new_usage(
                input_tokens=get_int(usage, "input"),
                output_tokens=get_int(usage, "output"),
                cache_read_tokens=get_int(usage, "cacheRead"),
                cache_write_tokens=get_int(usage, "cacheWrite"),
                cost_usd=get_float(get_dict(usage, "cost"), "total"),
            )
            self._usage += report
            out.append(new_usage_report(usage=report, raw=raw))
