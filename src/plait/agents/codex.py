"""Codex CLI: `codex exec --json …` (or `codex exec resume … ID`) and its stream decoder.

How the stream maps to events: `thread.started` → SessionStarted; `item.started`/
`item.completed` of a `command_execution` (or `file_change`, `mcp_tool_call`) →
ToolCall / ToolResult; an `agent_message` item → TextOut; `turn.completed` → a
UsageReport marked cumulative, because codex totals usage over the whole thread (a resumed
thread reports the earlier runs too; plait turns totals into per-run deltas);
`turn.failed` and top-level `error` events → AgentErrorEvent with a failure class
("Reconnecting… n/5" errors are codex retrying: classified, but not the end).

codex prints no final "result" event, so `close()` synthesizes the FinalResult at end of
stream: ok when the last turn completed and nothing failed after it; not ok with the
failure class of the last error when a turn failed; and nothing at all when the stream
ended mid-turn with no error (the runner then judges by exit code and stderr).
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

API_KEY_VAR = "PLAIT_CODEX_API_KEY"


class CodexStreamDecoder(stream.JsonLineDecoder):
    """Pure decoder of `codex exec --json` output (bounded memory)."""

    def _reset(self) -> None:
        self._started: set[str] = set()  # item ids announced; cleared on completion
        self._completed = False  # the last turn completed
        self._failure: events.AgentErrorEvent | None = None  # a turn failed (final)

    def _end(self, out: list[events.AgentEvent]) -> None:
        if final := self._final():
            out.append(final)

    def _final(self) -> events.FinalResult | None:
        failed = self._failure
        if failed is None and not self._completed:
            return None
        if failed is not None:
            return events.FinalResult(
                ok=False,
                session_id=self._session,
                num_turns=self._turns,
                failure=failed.failure or "failed",
                error=failed.message,
                reset_at=failed.reset_at,
                text=self._text,
            )
        return events.FinalResult(
            ok=True, text=self._text, session_id=self._session, num_turns=self._turns
        )

    def _thread_started(
        self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]
    ) -> None:
        if thread := stream.get_str(obj, "thread_id"):
            self._session = thread
            out.append(events.SessionStarted(session_id=thread, raw=raw))

    def _turn_started(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        self._completed = False

    def _item_line(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        item = obj.get("item")
        if not isinstance(item, dict):
            item = {}
        self._item(item, obj["type"] == "item.completed", raw, out)

    def _turn_completed(
        self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]
    ) -> None:
        self._turns += 1
        self._completed = True
        usage = _usage(stream.get_dict(obj, "usage"))
        out.append(events.UsageReport(usage=usage, cumulative=True, raw=raw))

    def _turn_failed(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        message = stream.get_str(stream.get_dict(obj, "error"), "message") or "the turn failed"
        self._failure = self._error(message, raw)
        out.append(self._failure)

    def _error_line(self, obj: dict[str, object], raw: str, out: list[events.AgentEvent]) -> None:
        event = self._error(stream.get_str(obj, "message") or "error", raw)
        if not event.message.startswith("Reconnecting"):
            self._failure = event  # codex gave up
        out.append(event)

    def _error(self, message: str, raw: str) -> events.AgentErrorEvent:
        failure, reset = classify_failure(message, clock=self._clock)
        return events.AgentErrorEvent(
            message=stream.clip(message), failure=failure, reset_at=reset, raw=raw
        )

    def _item(
        self, item: dict[str, object], done: bool, raw: str, out: list[events.AgentEvent]
    ) -> None:
        # Runs for most lines: fields are read inline rather than through get_str (P6).
        kind = item.get("type")
        if kind == "agent_message":
            if done:
                text = item.get("text")
                self._text = text if isinstance(text, str) else ""
                if self._text:
                    out.append(events.TextOut(text=self._text, raw=raw))
            return
        if kind not in _TOOL_ITEMS:
            return
        item_id = item.get("id")
        if not isinstance(item_id, str):
            item_id = ""
        if item_id not in self._started:
            if len(self._started) < 10_000:  # bounded, whatever the stream does
                self._started.add(item_id)
            name, inp = _tool_name(item), _tool_input(item)
            out.append(events.ToolCall(call_id=item_id, name=name, input=inp, raw=raw))
        if done:
            self._started.discard(item_id)
            status = item.get("status")
            if not isinstance(status, str):
                status = ""
            exit_code = item.get("exit_code")
            failed = status == "failed" or (isinstance(exit_code, int) and exit_code != 0)
            output = item.get("aggregated_output")
            if not output or not isinstance(output, str):
                output = status
            out.append(
                events.ToolResult(
                    call_id=item_id, output=stream.clip(output), is_error=failed, raw=raw
                )
            )

    handlers = stream.handler_table(
        {
            "thread.started": _thread_started,
            "turn.started": _turn_started,
            "item.started": _item_line,
            "item.updated": _item_line,
            "item.completed": _item_line,
            "turn.completed": _turn_completed,
            "turn.failed": _turn_failed,
            "error": _error_line,
        }
    )


# A tuple, not a set: `in` must not hash a "type" of the wrong shape (a list).
_TOOL_ITEMS = ("command_execution", "file_change", "mcp_tool_call", "web_search")


def _tool_name(item: dict[str, object]) -> str:
    kind = stream.get_str(item, "type")
    if kind == "mcp_tool_call":
        return f"{stream.get_str(item, 'server')}.{stream.get_str(item, 'tool')}".strip(".") or kind
    return _TOOL_NAMES.get(kind, kind)


_TOOL_NAMES = {"command_execution": "shell", "file_change": "apply_patch"}


def _tool_input(item: dict[str, object]) -> str:
    if command := stream.get_str(item, "command"):
        return stream.clip(command, 300)
    paths = [stream.get_str(c, "path") for c in stream.get_list(item, "changes")]
    if paths:
        return stream.clip(" ".join(p for p in paths if p), 300)
    return stream.compact_input(item.get("arguments") or item.get("query") or "")


def _usage(obj: dict[str, object]) -> Usage:
    """OpenAI counts cached input inside `input_tokens`; plait keeps them apart."""
    cached = stream.get_int(obj, "cached_input_tokens")
    return Usage(
        input_tokens=max(0, stream.get_int(obj, "input_tokens") - cached),
        output_tokens=stream.get_int(obj, "output_tokens"),
        cache_read_tokens=cached,
        cache_write_tokens=stream.get_int(obj, "cache_write_input_tokens"),
        reasoning_tokens=stream.get_int(obj, "reasoning_output_tokens"),
    )


@dataclass(frozen=True, kw_only=True)
class CodexBackend(ProviderCLI):
    """Runs `codex exec` with approvals and sandbox bypassed (the worktree is the sandbox).

    `base_url` (e.g. `http://127.0.0.1:PORT/v1`) adds a Responses-API provider named
    `provider` whose key is `api_key`; `config_home` becomes `CODEX_HOME`; `max_retries`
    caps codex's request and stream retries. codex has no max-turns flag.
    """

    name = "codex"
    decoder_type = CodexStreamDecoder
    provider: str = provider_option()

    def argv(self, spec: TurnSpec) -> list[str]:
        argv = [self.program, "exec"]
        if spec.session_id:
            argv.append("resume")
        argv += ["--json", "--dangerously-bypass-approvals-and-sandbox", "--skip-git-repo-check"]
        if model := spec.model or self.model:
            argv += ["-m", model]
        if spec.effort:
            argv += ["-c", f"model_reasoning_effort={json.dumps(spec.effort)}"]
        argv += self._provider_args()
        argv += self.extra_args
        # `--` so a prompt starting with "-" is not read as a flag.
        argv.append("--")
        if spec.session_id:
            argv.append(spec.session_id)
        return [*argv, spec.prompt]

    def _provider_args(self) -> list[str]:
        if not self.base_url:
            return []
        fields = {
            "name": self.provider,
            "base_url": self.base_url,
            "wire_api": "responses",
            "env_key": API_KEY_VAR,
        }
        table = ", ".join(f"{k} = {json.dumps(v)}" for k, v in fields.items())
        if self.max_retries is not None:
            n = self.max_retries
            table += f", request_max_retries = {n}, stream_max_retries = {n}"
        return [
            "-c",
            f"model_provider={json.dumps(self.provider)}",
            "-c",
            f"model_providers.{self.provider}={{{table}}}",
        ]

    def extra_env(self, spec: TurnSpec, env: Mapping[str, str]) -> Mapping[str, str]:
        extra = {"CODEX_HOME": self.config_home} if self.config_home else {}
        if self.base_url:
            extra[API_KEY_VAR] = self.api_key or "plait-no-key"
        return extra
