"""The script a `ModelAPIDouble` plays, the faults it injects, and what it records.

A script is a list of `Turn`s. A turn is what the model does for one user prompt: a few
`Shell` tool calls (each answered by the agent CLI with a tool result) and a final text.
Several agents can share one double: a *route* is a script of its own, played to the
conversations whose user messages contain the route's marker (e.g. a task's title, which
plait's prompts render), so concurrent agents each get their own turns in order.
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
    route: str = ""


@dataclass(frozen=True, slots=True)
class TextStep:
    """The model answers with final text (ends the turn)."""

    turn: int
    text: str
    usage: Usage
    route: str = ""


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
    route: str = ""  # the route (marker) that answered, "" for the shared script


@dataclass(frozen=True, slots=True)
class Conversation:
    """What a dialect reads from a request body to place it in the script."""

    has_tools: bool
    tool_names: frozenset[str]
    user_messages: int  # user messages that carry the user's words (not tool results)
    last_user_text: str
    results_since_user: int  # tool results after the last user message
    stream: bool = True
    user_text: str = ""  # every user message's words, joined (to find a route's marker)


# Routing needs only the head of each prompt (where the task's title is); bounding the text
# searched keeps a huge transcript from slowing every request.
USER_TEXT_LIMIT = 64 * 1024


def join_user_text(texts: list[str]) -> str:
    """The user messages' words for route matching: each one's head, bounded overall."""
    return "\n".join(t[:4096] for t in texts)[:USER_TEXT_LIMIT]


@dataclass(slots=True)
class ScriptState:
    """Which turn each conversation is on. Not thread-safe: the double holds a lock.

    `turns` is the shared script (route ""); `routes` maps a marker to its own script.
    """

    turns: list[Turn]
    routes: dict[str, list[Turn]] = field(default_factory=dict)
    by_key: dict[tuple[str, int, str], int] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)  # turns begun, per route
    exhausted: int = 0

    @property
    def next_turn(self) -> int:
        """Turns begun on the shared script."""
        return self.started.get("", 0)

    def route_for(self, conv: Conversation) -> str:
        """The route whose marker the conversation's prompt (else any user message)
        contains; the longest marker wins, so "Add a" never steals "Add a b"."""
        for text in (conv.last_user_text, conv.user_text):
            found = [m for m in self.routes if m and m in text]
            if found:
                return max(found, key=len)
        return ""

    def script(self, route: str) -> list[Turn]:
        return self.routes[route] if route else self.turns

    def step_for(self, conv: Conversation) -> Step:
        """The step answering `conv`. A new user prompt starts the next unplayed turn of
        its route; a repeat of a prompt already seen (a retry after a fault) replays it."""
        route = self.route_for(conv)
        key = (route, conv.user_messages, conv.last_user_text)
        turn_no = self.by_key.get(key)
        if turn_no is None:
            turn_no = self.started.get(route, 0)
            self.by_key[key] = turn_no
            self.started[route] = turn_no + 1
        turns = self.script(route)
        if turn_no >= len(turns):
            self.exhausted += 1
            return TextStep(turn_no, "The script has no more turns.", DEFAULT_USAGE, route)
        turn = turns[turn_no]
        index = conv.results_since_user
        if index < len(turn.calls):
            # Distinct per route so a transcript never shows two calls with one id.
            prefix = f"r{list(self.routes).index(route)}_" if route else ""
            call_id = f"call_{prefix}t{turn_no}_{index}"
            return ToolStep(turn_no, index, turn.calls[index], call_id, turn.usage, route)
        return TextStep(turn_no, turn.text, turn.usage, route)
