"""The one Protocol every agent backend implements, and the typed events its stream yields.

A backend owns three things: the command line of a non-interactive streaming run, the
environment it runs in, and a pure stream decoder (`feed(bytes)` → events). The runner in
`plait.agents.runner` does the process work (process group, timeouts, kill) for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from plait.core.model import Usage


# ---- stream events -------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class AgentEvent:
    raw: str = field(default="", repr=False, compare=False)  # the JSON line, for transcripts


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStarted(AgentEvent):
    session_id: str
    model: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TextOut(AgentEvent):
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall(AgentEvent):
    call_id: str
    name: str
    input: str  # compact rendering of the tool input (command, path…)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult(AgentEvent):
    call_id: str
    output: str
    is_error: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageReport(AgentEvent):
    """Usage for (part of) the run. `cumulative` marks totals-so-far (codex threads)."""

    usage: Usage
    cumulative: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FinalResult(AgentEvent):
    ok: bool
    text: str = ""
    session_id: str = ""
    usage: Usage | None = None
    num_turns: int = 0
    failure: str = ""  # failure class when not ok (see FAILURE_CLASSES)
    error: str = ""
    reset_at: float | None = None  # when a rate/usage limit resets (epoch seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentErrorEvent(AgentEvent):
    message: str
    failure: str = ""
    reset_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Garbage(AgentEvent):
    """A line that was not valid event JSON (kept for the transcript, then ignored)."""

    text: str


FAILURE_CLASSES = (
    "rate_limit",
    "overloaded",
    "usage_limit",
    "context_overflow",
    "auth",
    "max_turns",
    "permission",
    "crash",
    "session",  # the session to resume is unknown / could not be resumed
    "stalled",
    "timeout",
    "failed",  # the CLI says the run failed for another reason
)


class StreamDecoder(Protocol):
    """Pure: bytes in, typed events out. Bounded memory whatever the input."""

    def feed(self, data: bytes) -> Iterator[AgentEvent]: ...

    def close(self) -> Iterator[AgentEvent]:
        """Flush what is left at end of stream."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnSpec:
    """One non-interactive run of an agent CLI."""

    prompt: str
    workdir: str
    session_id: str = ""  # resume this session when set
    model: str = ""
    effort: str = ""
    max_turns: int = 200
    task_id: str = ""
    project: str = ""
    kind: str = "start"  # turn kind: start | human | conflict | ci | review | nudge
    onto: str = ""  # for conflict turns: the branch to merge in


class AgentBackend(Protocol):
    name: str

    def argv(self, spec: TurnSpec) -> list[str]:
        """The command line (no shell) for one streaming run."""
        ...

    def env(self, base: Mapping[str, str], spec: TurnSpec) -> dict[str, str]:
        """The environment: nested-agent variables removed, task identity added."""
        ...

    def decoder(self) -> StreamDecoder: ...
