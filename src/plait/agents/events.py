"""The typed events an agent's stream decoder yields, and the failure classes they carry.

msgspec structs, not dataclasses: a decoder builds one or more events per line, and a
struct is built in C, several times faster than a frozen dataclass (QUALITY P6).
"""

from __future__ import annotations

import msgspec

from plait.core.model import Usage


class AgentEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One thing an agent's stream said. `raw` is its JSON line, kept for transcripts: it
    is not part of what the event means, so ==, hash and repr leave it out."""

    raw: str = ""

    def payload(self) -> dict[str, object]:
        """Every field but `raw`, by name (for transcripts)."""
        return {name: getattr(self, name) for name in self.__struct_fields__ if name != "raw"}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, AgentEvent)
        return self.payload() == other.payload()

    def __hash__(self) -> int:
        return hash((type(self), *self.payload().values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.payload().items())
        return f"{type(self).__name__}({fields})"


class SessionStarted(AgentEvent, frozen=True, kw_only=True):
    session_id: str
    model: str = ""


class TextOut(AgentEvent, frozen=True, kw_only=True):
    text: str


class ToolCall(AgentEvent, frozen=True, kw_only=True):
    call_id: str
    name: str
    input: str  # compact rendering of the tool input (command, path…)


class ToolResult(AgentEvent, frozen=True, kw_only=True):
    call_id: str
    output: str
    is_error: bool = False


class UsageReport(AgentEvent, frozen=True, kw_only=True):
    """Usage for (part of) the run. `cumulative` marks totals-so-far (codex threads)."""

    usage: Usage
    cumulative: bool = False


class FinalResult(AgentEvent, frozen=True, kw_only=True):
    ok: bool
    text: str = ""
    session_id: str = ""
    usage: Usage | None = None
    num_turns: int = 0
    failure: str = ""  # failure class when not ok (see FAILURE_CLASSES)
    error: str = ""
    reset_at: float | None = None  # when a rate/usage limit resets (epoch seconds)


class AgentErrorEvent(AgentEvent, frozen=True, kw_only=True):
    message: str
    failure: str = ""
    reset_at: float | None = None


class Garbage(AgentEvent, frozen=True, kw_only=True):
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
