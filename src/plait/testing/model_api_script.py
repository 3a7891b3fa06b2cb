"""The script a `ModelAPIDouble` plays, the faults it injects, and what it records.

A script is a list of `Turn`s. A turn is what the model does for one user prompt: a few
`Shell` tool calls (each answered by the agent CLI with a tool result) and a final text.
The wire dialects (`model_api_anthropic`, `model_api_openai`, `model_api_gemini`) turn a
`Step` into their own JSON/SSE; this module holds only the protocol-free values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from plait.core.model import Usage

DEFAULT_USAGE = Usage(input_tokens=100, output_tokens=20)


@dataclass(frozen=True, slots=True)
class Shell:
    """A tool call that runs `command` with the CLI's own shell tool."""

    command: str
    description: str = "run a command"


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One scripted turn: tool calls in order, then `text`.

    `usage` is what EVERY model response of this turn reports (a turn with two tool calls
    answers three requests, so a CLI summing them reports three times `usage`).
    """

    calls: tuple[Shell, ...] = ()
    text: str = "Done."
    usage: Usage = DEFAULT_USAGE

    @property
    def responses(self) -> int:
        """How many model requests the turn answers (one per call plus the final text)."""
        return len(self.calls) + 1


def shell_turn(*commands: str, text: str = "Done.", usage: Usage = DEFAULT_USAGE) -> Turn:
    return Turn(calls=tuple(Shell(c) for c in commands), text=text, usage=usage)


@dataclass(frozen=True, slots=True)
class ToolStep:
    """The model asks for `Shell` number `index` of `turn`."""

    turn: int
    index: int
    call: Shell
    call_id: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class TextStep:
    """The model answers with final text (ends the turn)."""

    turn: int
    text: str
    usage: Usage


Step = ToolStep | TextStep

FaultKind = Literal["rate_limit", "overloaded", "server_error", "drop", "stall", "auth"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """An injected failure for one request.

    rate_limit: 429 with `retry-after` and provider reset headers (`reset_in` seconds).
    overloaded: 529 (Anthropic) / 503 (others). server_error: 500. auth: 401.
    drop: a 200 stream that closes after its first event. stall: headers and first event
    sent, then silence for `stall_seconds` before the connection is closed.
    `message` overrides the error text. `usage_limit=True` words a 429 as a usage/quota
    limit instead of a rate limit.
    """

    kind: FaultKind
    reset_in: float = 30.0
    stall_seconds: float = 30.0
    message: str = ""
    usage_limit: bool = False


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request the double saw. Auth headers are removed before recording."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, object] | None
    dialect: str = ""  # anthropic | responses | chat | gemini | "" (other endpoints)
    turn: int | None = None  # scripted turn answered (0-based), None for aux/other
    fault: str = ""  # the injected fault kind, if any
    aux: bool = False  # a side request without tools (titles, summaries)


@dataclass(frozen=True, slots=True)
class Conversation:
    """What a dialect reads from a request body to place it in the script."""

    has_tools: bool
    tool_names: frozenset[str]
    user_messages: int  # user messages that carry the user's words (not tool results)
    last_user_text: str
    results_since_user: int  # tool results after the last user message
    stream: bool = True


@dataclass(slots=True)
class ScriptState:
    """Which turn each conversation is on. Not thread-safe: the double holds a lock."""

    turns: list[Turn]
    by_key: dict[tuple[int, str], int] = field(default_factory=dict)
    next_turn: int = 0
    exhausted: int = 0

    def step_for(self, conv: Conversation) -> Step:
        """The step answering `conv`. A new user prompt starts the next unplayed turn; a
        repeat of a prompt already seen (a retry after a fault) replays the same turn."""
        key = (conv.user_messages, conv.last_user_text)
        turn_no = self.by_key.get(key)
        if turn_no is None:
            turn_no = self.next_turn
            self.by_key[key] = turn_no
            self.next_turn += 1
        if turn_no >= len(self.turns):
            self.exhausted += 1
            return TextStep(turn_no, "The script has no more turns.", DEFAULT_USAGE)
        turn = self.turns[turn_no]
        index = conv.results_since_user
        if index < len(turn.calls):
            call_id = f"call_t{turn_no}_{index}"
            return ToolStep(turn_no, index, turn.calls[index], call_id, turn.usage)
        return TextStep(turn_no, turn.text, turn.usage)
