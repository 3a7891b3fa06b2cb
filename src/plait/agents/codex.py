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
import time
from collections.abc import Callable, Mapping

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
    get_dict,
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

API_KEY_VAR = "PLAIT_CODEX_API_KEY"


class CodexBackend(ProviderCLI):
    """Runs `codex exec` with approvals and sandbox bypassed (the worktree is the sandbox).

    `base_url` (e.g. `http://127.0.0.1:PORT/v1`) adds a Responses-API provider named
    `provider` whose key is `api_key`; `config_home` becomes `CODEX_HOME`; `max_retries`
    caps codex's request and stream retries. codex has no max-turns flag.
    """

    name = "codex"

    def argv(self, spec: TurnSpec) -> list[str]:
        argv = [self.executable, "exec"]
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

    def env(self, base: Mapping[str, str], spec: TurnSpec) -> dict[str, str]:
        env = clean_env(base, spec, pass_forge_token=self.pass_forge_token)
        # Some CLIs (opencode) take their directory from $PWD, not from their cwd.
        env["PWD"] = spec.workdir
        if self.config_home:
            env["CODEX_HOME"] = self.config_home
        if self.base_url:
            env[API_KEY_VAR] = self.api_key or "plait-no-key"
        return env

    def decoder(self) -> CodexStreamDecoder:
        return CodexStreamDecoder()


class CodexStreamDecoder(JsonLineDecoder):
    """Pure decoder of `codex exec --json` output (bounded memory)."""

    def __init__(
        self, *, max_line: int = DEFAULT_MAX_LINE, clock: Callable[[], float] | None = time.time
    ) -> None:
        super().__init__(max_line)
        self._clock = clock
        self._session = ""
        self._started: set[str] = set()  # item ids announced; cleared on completion
        self._last_text = ""
        self._turns = 0
        self._completed = False  # the last turn completed
        self._failure: AgentErrorEvent | None = None  # a turn failed (final)
        self._handlers = {
            "thread.started": self._thread_started,
            "turn.started": self._turn_started,
            "item.started": self._item_line,
            "item.updated": self._item_line,
            "item.completed": self._item_line,
            "turn.completed": self._turn_completed,
            "turn.failed": self._turn_failed,
            "error": self._error_line,
        }

    def _end(self, out: list[AgentEvent]) -> None:
        if final := self._final():
            out.append(final)

    def _final(self) -> FinalResult | None:
        failed = self._failure
        if failed is None and not self._completed:
            return None
        if failed is not None:
            return new_final_result(
                ok=False,
                session_id=self._session,
                num_turns=self._turns,
                failure=failed.failure or "failed",
                error=failed.message,
                reset_at=failed.reset_at,
                text=self._last_text,
            )
        return new_final_result(
            ok=True, text=self._last_text, session_id=self._session, num_turns=self._turns
        )

    def _thread_started(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        if thread := get_str(obj, "thread_id"):
            self._session = thread
            out.append(new_session_started(session_id=thread, raw=raw))

    def _turn_started(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        self._completed = False

    def _item_line(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        item = obj.get("item")
        if not isinstance(item, dict):
            item = {}
        self._item(item, obj["type"] == "item.completed", raw, out)

    def _turn_completed(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        self._turns += 1
        self._completed = True
        usage = _usage(get_dict(obj, "usage"))
        out.append(new_usage_report(usage=usage, cumulative=True, raw=raw))

    def _turn_failed(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        message = get_str(get_dict(obj, "error"), "message") or "the turn failed"
        self._failure = self._error(message, raw)
        out.append(self._failure)

    def _error_line(self, obj: dict[str, object], raw: str, out: list[AgentEvent]) -> None:
        event = self._error(get_str(obj, "message") or "error", raw)
        if not event.message.startswith("Reconnecting"):
            self._failure = event  # codex gave up
        out.append(event)

    def _error(self, message: str, raw: str) -> AgentErrorEvent:
        failure, reset = classify_failure(message, clock=self._clock)
        return new_error_event(message=clip(message), failure=failure, reset_at=reset, raw=raw)

    def _item(self, item: dict[str, object], done: bool, raw: str, out: list[AgentEvent]) -> None:
        # Runs for most lines: fields are read inline rather than through get_str (P6).
        kind = item.get("type")
        if kind == "agent_message":
            if done:
                text = item.get("text")
                self._last_text = text if isinstance(text, str) else ""
                if self._last_text:
                    out.append(new_text_out(text=self._last_text, raw=raw))
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
            out.append(new_tool_call(call_id=item_id, name=name, input=inp, raw=raw))
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
                new_tool_result(call_id=item_id, output=clip(output), is_error=failed, raw=raw)
            )


# A tuple, not a set: `in` must not hash a "type" of the wrong shape (a list).
_TOOL_ITEMS = ("command_execution", "file_change", "mcp_tool_call", "web_search")


def _tool_name(item: dict[str, object]) -> str:
    kind = get_str(item, "type")
    if kind == "mcp_tool_call":
        return f"{get_str(item, 'server')}.{get_str(item, 'tool')}".strip(".") or kind
    return _TOOL_NAMES.get(kind, kind)


_TOOL_NAMES = {"command_execution": "shell", "file_change": "apply_patch"}


def _tool_input(item: dict[str, object]) -> str:
    if command := get_str(item, "command"):
        return clip(command, 300)
    paths = [get_str(c, "path") for c in get_list(item, "changes")]
    if paths:
        return clip(" ".join(p for p in paths if p), 300)
    return compact_input(item.get("arguments") or item.get("query") or "")


def _usage(obj: dict[str, object]) -> Usage:
    """OpenAI counts cached input inside `input_tokens`; plait keeps them apart."""
    cached = get_int(obj, "cached_input_tokens")
    return new_usage(
        input_tokens=max(0, get_int(obj, "input_tokens") - cached),
        output_tokens=get_int(obj, "output_tokens"),
        cache_read_tokens=cached,
        cache_write_tokens=get_int(obj, "cache_write_input_tokens"),
        reasoning_tokens=get_int(obj, "reasoning_output_tokens"),
    )
