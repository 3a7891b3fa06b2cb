"""Claude Code: `claude -p … --output-format stream-json --verbose` and its stream decoder.

How the stream maps to events: `system/init` → SessionStarted; each `assistant` message →
TextOut / ToolCall per content block plus one UsageReport per API message (Claude Code
repeats a message's usage on every block it streams separately, so a message id is
counted once); `user` tool results → ToolResult; an assistant message with an `error`
field (e.g. `authentication_failed`) → AgentErrorEvent; the final `result` → FinalResult
with the failure class. Unknown event types are ignored; lines that are not JSON objects
become Garbage. Nothing here raises on input.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from plait.agents.base import (
    AgentErrorEvent,
    AgentEvent,
    FinalResult,
    TurnSpec,
)
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
from plait.core.model import Usage

# Claude Code's own error codes on an assistant message, for when the text says nothing
# more specific.
_ERROR_CODES = {
    "authentication_failed": "auth",
    "billing_error": "usage_limit",
    "rate_limit": "rate_limit",
    "max_output_tokens": "failed",
    "invalid_request": "failed",
    "server_error": "overloaded",
}
_SUBTYPES = {"error_max_turns": "max_turns"}


class ClaudeBackend:
    """Runs Claude Code non-interactively with permissions skipped (plait owns the sandbox:
    a worktree, no forge token)."""

    name = "claude"

    def __init__(
        self,
        executable: str = "claude",
        model: str = "",
        extra_args: Sequence[str] = (),
        *,
        pass_forge_token: bool = False,
    ) -> None:
        self.executable = executable
        self.model = model
        self.extra_args = tuple(extra_args)
        self.pass_forge_token = pass_forge_token

    def argv(self, spec: TurnSpec) -> list[str]:
        argv = [self.executable, "-p", spec.prompt, "--output-format", "stream-json"]
        argv += ["--verbose", "--dangerously-skip-permissions"]
        argv += ["--max-turns", str(spec.max_turns)]
        if spec.session_id:
            argv += ["--resume", spec.session_id]
        if model := spec.model or self.model:
            argv += ["--model", model]
        return argv + list(self.extra_args)

    def env(self, base: Mapping[str, str], spec: TurnSpec) -> dict[str, str]:
        env = clean_env(base, spec, pass_forge_token=self.pass_forge_token)
        # As root, Claude Code refuses --dangerously-skip-permissions unless told it runs
        # in a sandbox; a task worktree is plait's sandbox.
        if os.geteuid() == 0:
            env["IS_SANDBOX"] = "1"
        return env

    def decoder(self) -> ClaudeStreamDecoder:
        return ClaudeStreamDecoder()


class ClaudeStreamDecoder(JsonLineDecoder):
    """Pure decoder of Claude Code's stream-json output (bounded memory)."""

    def __init__(
        self,
        *,
        max_line: int = DEFAULT_MAX_LINE,
        clock: Callable[[], float] | None = time.time,
    ) -> None:
        super().__init__(max_line)
        self._clock = clock
        self._seen_messages: deque[str] = deque(maxlen=64)
        self._error_failure = ""  # failure class from an assistant `error` field
        self._error_reset: float | None = None
        self._handlers = {
            "system": self._system,
            "assistant": self._assistant,
            "user": self._user,
            "result": self._result_line,
        }

    def _system(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        session = get_str(obj, "session_id")
        if obj.get("subtype") == "init" and session:
            out.append(
                new_session_started(session_id=session, model=get_str(obj, "model"), raw=raw)
            )

    def _assistant(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        message = get_dict(obj, "message")
        blocks = get_list(message, "content")
        if error := get_str(obj, "error"):
            out.append(self._error_event(error, content_text(blocks), raw))
            return
        for block in blocks:
            if not isinstance(block, dict):
                continue
            block_type = block.get("type")
            if block_type == "text" and (said := get_str(block, "text")):
                out.append(new_text_out(text=said, raw=raw))
            elif block_type == "tool_use":
                call = get_str(block, "id")
                name = get_str(block, "name", "tool")
                inp = compact_input(block.get("input"))
                out.append(new_tool_call(call_id=call, name=name, input=inp, raw=raw))
        msg_id = get_str(message, "id")
        usage = get_dict(message, "usage")
        if usage and (not msg_id or msg_id not in self._seen_messages):
            if msg_id:
                self._seen_messages.append(msg_id)
            out.append(new_usage_report(usage=_usage(usage), raw=raw))

    def _error_event(self, code: str, text: str, raw: str) -> AgentErrorEvent:
        failure, reset = classify_failure(text, clock=self._clock)
        self._error_failure = failure or _ERROR_CODES.get(code, "failed")
        self._error_reset = reset
        message = text or code
        return new_error_event(
            message=message, failure=self._error_failure, reset_at=reset, raw=raw
        )

    def _user(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        for block in get_list(get_dict(obj, "message"), "content"):
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            out.append(
                new_tool_result(
                    call_id=get_str(block, "tool_use_id"),
                    output=content_text(block.get("content")),
                    is_error=get_bool(block, "is_error"),
                    raw=raw,
                )
            )

    def _result_line(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        out.append(self._result(obj, raw))

    def _result(self, obj: dict[str, object], raw: str) -> FinalResult:
        subtype = get_str(obj, "subtype")
        ok = not get_bool(obj, "is_error") and subtype == "success"
        text = get_str(obj, "result")
        usage_obj = get_dict(obj, "usage")
        usage = _usage(usage_obj, cost=get_float(obj, "total_cost_usd")) if usage_obj else None
        failure, error, reset = "", "", None
        if not ok:
            errors = [e for e in get_list(obj, "errors") if isinstance(e, str)]
            error = text or "; ".join(errors) or subtype or "the agent reported an error"
            failure, reset = self._failure(subtype, error)
        return new_final_result(
            ok=ok,
            text=text,
            session_id=get_str(obj, "session_id"),
            usage=usage,
            num_turns=get_int(obj, "num_turns"),
            failure=failure,
            error=clip(error),
            reset_at=reset,
            raw=raw,
        )

    def _failure(self, subtype: str, error: str) -> tuple[str, float | None]:
        if subtype in _SUBTYPES:
            return _SUBTYPES[subtype], None
        failure, reset = classify_failure(error, clock=self._clock)
        if failure:
            return failure, reset
        if self._error_failure:
            return self._error_failure, self._error_reset
        return "failed", None


def _usage(obj: dict[str, object], *, cost: float = 0.0) -> Usage:
    return new_usage(
        input_tokens=get_int(obj, "input_tokens"),
        output_tokens=get_int(obj, "output_tokens"),
        cache_read_tokens=get_int(obj, "cache_read_input_tokens"),
        cache_write_tokens=get_int(obj, "cache_creation_input_tokens"),
        cost_usd=cost,
    )
