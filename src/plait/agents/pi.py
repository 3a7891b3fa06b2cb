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
from collections.abc import Mapping
from dataclasses import dataclass

from plait.agents import events, stream
from plait.agents.base import TurnSpec
from plait.agents.cli_backend import ProviderCLI, provider_option
from plait.agents.failures import classify_failure
from plait.core.model import Usage


class PiStreamDecoder(stream.JsonLineDecoder):
    """Pure decoder of `pi --mode json` output (bounded memory)."""

    def _reset(self) -> None:
        self._ended = False
        self._stop = ""  # stopReason of the last assistant message
        self._error = ""  # its errorMessage
        self._retry_failed = ""

    def _end(self, out: list[events.AgentEvent]) -> None:
        if self._ended:
            out.append(self._final())

    def _final(self) -> events.FinalResult:
        error = self._retry_failed or (self._error if self._stop in ("error", "aborted") else "")
        if self._stop == "length" and not error:
            error = "the model stopped at its output token limit"
        failure, reset = classify_failure(error, clock=self._clock) if error else ("", None)
        if error and not failure:
            failure = "crash" if self._stop == "aborted" else "failed"
        return events.FinalResult(
            ok=not error,
            text=self._text,
            session_id=self._session,
            usage=self._usage,
            num_turns=self._turns,
            failure=failure,
            error=stream.clip(error),
            reset_at=reset,
        )

    def _session_line(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        if session := stream.get_str(obj, "id"):
            self._session = session
            out.append(events.SessionStarted(session_id=session, raw=raw))

    def _message_end(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        self._message(stream.get_dict(obj, "message"), raw, out)

    def _tool_end(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        content = stream.get_dict(obj, "result").get("content")
        result = events.ToolResult(
            call_id=stream.get_str(obj, "toolCallId"),
            output=stream.content_text(content),
            is_error=stream.get_bool(obj, "isError"),
            raw=raw,
        )
        out.append(result)

    def _retry_start(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        out.append(self._error_event(stream.get_str(obj, "errorMessage"), raw))

    def _retry_end(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        if not stream.get_bool(obj, "success", True):
            self._retry_failed = stream.get_str(obj, "finalError") or "pi gave up retrying"
            out.append(self._error_event(self._retry_failed, raw))

    def _agent_start(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        self._ended = False

    def _agent_end(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        self._ended = True

    def _error_event(self, message: str, raw: str) -> events.AgentErrorEvent:
        failure, reset = classify_failure(message, clock=self._clock)
        return events.AgentErrorEvent(
            message=stream.clip(message), failure=failure, reset_at=reset, raw=raw
        )

    def _message(self, message: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        if message.get("role") != "assistant":
            return
        self._turns += 1
        self._stop = stream.get_str(message, "stopReason")
        self._error = stream.get_str(message, "errorMessage")
        for block in stream.get_list(message, "content"):
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text" and (said := stream.get_str(block, "text")):
                self._text = said
                out.append(events.TextOut(text=said, raw=raw))
            elif kind == "toolCall":
                call = events.ToolCall(
                    call_id=stream.get_str(block, "id"),
                    name=stream.get_str(block, "name", "tool"),
                    input=stream.compact_input(block.get("arguments")),
                    raw=raw,
                )
                out.append(call)
        usage = stream.get_dict(message, "usage")
        if usage:
            report = Usage(
                input_tokens=stream.get_int(usage, "input"),
                output_tokens=stream.get_int(usage, "output"),
                cache_read_tokens=stream.get_int(usage, "cacheRead"),
                cache_write_tokens=stream.get_int(usage, "cacheWrite"),
                cost_usd=stream.get_float(stream.get_dict(usage, "cost"), "total"),
            )
            self._usage += report
            out.append(events.UsageReport(usage=report, raw=raw))

    handlers = stream.handler_table(
        {
            "session": _session_line,
            "message_end": _message_end,
            "tool_execution_end": _tool_end,
            "auto_retry_start": _retry_start,
            "auto_retry_end": _retry_end,
            "agent_start": _agent_start,
            "agent_end": _agent_end,
        }
    )


@dataclass(frozen=True, kw_only=True)
class PiBackend(ProviderCLI):
    """Runs `pi -p --mode json --offline` (pi asks no permissions in print mode).

    `config_home` becomes `PI_CODING_AGENT_DIR` (settings, models, sessions). With
    `base_url` (an Anthropic-Messages endpoint without `/v1`), `prepare_home` writes a
    provider named `provider` into `config_home/models.json`, and `max_retries` into
    `settings.json` (pi's own retries; the SDK's are turned off). pi has no max-turns flag.
    """

    name = "pi"
    decoder_type = PiStreamDecoder
    provider: str = provider_option()

    def prepare_home(self) -> None:
        if not self.base_url:
            return
        home = self._home()
        model = (self.model or "plait-model").split("/")[-1]
        provider = {
            "baseUrl": self.base_url,
            "api": "anthropic-messages",
            "apiKey": self.api_key or "none",
            "models": [{"id": model}],
        }
        (home / "models.json").write_text(json.dumps({"providers": {self.provider: provider}}))
        if self.max_retries is not None:
            retry = {
                "enabled": self.max_retries > 0,
                "maxRetries": self.max_retries,
                "baseDelayMs": 200,
                "provider": {"maxRetries": 0},
            }
            (home / "settings.json").write_text(json.dumps({"retry": retry}))

    def argv(self, spec: TurnSpec) -> list[str]:
        argv = [self.program, "-p", "--mode", "json", "--offline"]
        model = spec.model or self.model
        if model:
            slash = self.base_url and "/" not in model
            argv += ["--model", f"{self.provider}/{model}" if slash else model]
        if spec.effort:
            argv += ["--thinking", spec.effort]
        if spec.session_id:
            argv += ["--session", spec.session_id]
        return [*argv, *self.extra_args, spec.prompt]

    def extra_env(self, spec: TurnSpec, env: Mapping[str, str]) -> Mapping[str, str]:
        extra = {"PI_OFFLINE": "1"}
        if self.config_home:
            extra["PI_CODING_AGENT_DIR"] = self.config_home
        return extra
