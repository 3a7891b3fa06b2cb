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
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from plait.agents import events, stream
from plait.agents.base import TurnSpec
from plait.agents.cli_backend import AgentCLI
from plait.agents.failures import classify_failure
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


class ClaudeStreamDecoder(stream.JsonLineDecoder):
    """Pure decoder of Claude Code's stream-json output (bounded memory)."""

    def _reset(self) -> None:
        self._seen_messages: deque[str] = deque(maxlen=64)
        self._error_failure = ""  # failure class from an assistant `error` field
        self._error_reset: float | None = None

    def _system(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        session = stream.get_str(obj, "session_id")
        if obj.get("subtype") == "init" and session:
            out.append(
                events.SessionStarted(
                    session_id=session, model=stream.get_str(obj, "model"), raw=raw
                )
            )

    def _assistant(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        message = stream.get_dict(obj, "message")
        blocks = stream.get_list(message, "content")
        if error := stream.get_str(obj, "error"):
            out.append(self._error_event(error, stream.content_text(blocks), raw))
            return
        for block in blocks:
            if not isinstance(block, dict):
                continue
            block_type = block.get("type")
            if block_type == "text" and (said := stream.get_str(block, "text")):
                out.append(events.TextOut(text=said, raw=raw))
            elif block_type == "tool_use":
                call = stream.get_str(block, "id")
                name = stream.get_str(block, "name", "tool")
                inp = stream.compact_input(block.get("input"))
                out.append(events.ToolCall(call_id=call, name=name, input=inp, raw=raw))
        msg_id = stream.get_str(message, "id")
        usage = stream.get_dict(message, "usage")
        if usage and (not msg_id or msg_id not in self._seen_messages):
            if msg_id:
                self._seen_messages.append(msg_id)
            out.append(events.UsageReport(usage=_usage(usage), raw=raw))

    def _error_event(self, code: str, text: str, raw: str) -> events.AgentErrorEvent:
        failure, reset = classify_failure(text, clock=self._clock)
        self._error_failure = failure or _ERROR_CODES.get(code, "failed")
        self._error_reset = reset
        message = text or code
        return events.AgentErrorEvent(
            message=message, failure=self._error_failure, reset_at=reset, raw=raw
        )

    def _user(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        for block in stream.get_list(stream.get_dict(obj, "message"), "content"):
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            out.append(
                events.ToolResult(
                    call_id=stream.get_str(block, "tool_use_id"),
                    output=stream.content_text(block.get("content")),
                    is_error=stream.get_bool(block, "is_error"),
                    raw=raw,
                )
            )

    def _result_line(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        out.append(self._result(obj, raw))

    def _result(self, obj: dict[str, object], raw: str) -> events.FinalResult:
        subtype = stream.get_str(obj, "subtype")
        ok = not stream.get_bool(obj, "is_error") and subtype == "success"
        text = stream.get_str(obj, "result")
        usage_obj = stream.get_dict(obj, "usage")
        usage = (
            _usage(usage_obj, cost=stream.get_float(obj, "total_cost_usd")) if usage_obj else None
        )
        failure, error, reset = "", "", None
        if not ok:
            errors = [e for e in stream.get_list(obj, "errors") if isinstance(e, str)]
            error = text or "; ".join(errors) or subtype or "the agent reported an error"
            failure, reset = self._failure(subtype, error)
        return events.FinalResult(
            ok=ok,
            text=text,
            session_id=stream.get_str(obj, "session_id"),
            usage=usage,
            num_turns=stream.get_int(obj, "num_turns"),
            failure=failure,
            error=stream.clip(error),
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

    handlers = stream.handler_table(
        {"system": _system, "assistant": _assistant, "user": _user, "result": _result_line}
    )


@dataclass(frozen=True, kw_only=True)
class ClaudeBackend(AgentCLI):
    """Runs Claude Code non-interactively with permissions skipped (plait owns the sandbox:
    a worktree, no forge token)."""

    name = "claude"
    decoder_type = ClaudeStreamDecoder
    # Four first starts at once in a fresh config home all run and commit (checked against
    # the model-API double): waiting for the first only held the other slots back (P3).
    first_start_alone = False

    def argv(self, spec: TurnSpec) -> list[str]:
        argv = [self.program, "-p", spec.prompt, "--output-format", "stream-json"]
        argv += ["--verbose"]
        if spec.allowed_tools:
            # Print mode cannot ask: every tool not on the list is refused.
            argv += ["--allowedTools", ",".join(spec.allowed_tools)]
        else:
            argv += ["--dangerously-skip-permissions"]
        argv += ["--max-turns", str(spec.max_turns)]
        if spec.session_id:
            argv += ["--resume", spec.session_id]
        if model := spec.model or self.model:
            argv += ["--model", model]
        return argv + list(self.extra_args)

    def extra_env(self, spec: TurnSpec, env: Mapping[str, str]) -> Mapping[str, str]:
        # As root, Claude Code refuses --dangerously-skip-permissions unless told it runs
        # in a sandbox; a task worktree is plait's sandbox.
        return {"IS_SANDBOX": "1"} if os.geteuid() == 0 else {}


def _usage(obj: dict[str, object], *, cost: float = 0.0) -> Usage:
    return Usage(
        input_tokens=stream.get_int(obj, "input_tokens"),
        output_tokens=stream.get_int(obj, "output_tokens"),
        cache_read_tokens=stream.get_int(obj, "cache_read_input_tokens"),
        cache_write_tokens=stream.get_int(obj, "cache_creation_input_tokens"),
        cost_usd=cost,
    )
