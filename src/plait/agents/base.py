"""The one Protocol every agent backend implements, and what one turn of it is asked to do.

A backend owns three things: the command line of a non-interactive streaming run, the
environment it runs in, and a pure stream decoder (`feed(bytes)` → events). The runner in
`plait.agents.runner` does the process work (process group, timeouts, kill) for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from plait.agents.events import AgentEvent


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
    allowed_tools: tuple[str, ...] = ()  # the only tools it may use (for CLIs that can say)


class AgentBackend(Protocol):
    @property
    def name(self) -> str: ...

    def argv(self, spec: TurnSpec) -> list[str]:
        """The command line (no shell) for one streaming run."""
        ...

    def env(self, base: Mapping[str, str], spec: TurnSpec) -> dict[str, str]:
        """The environment: nested-agent variables removed, task identity added."""
        ...

    def prepare_home(self) -> None:
        """Write the files the CLI must find before its first turn; called once, by whoever
        runs turns (building a backend writes nothing)."""
        ...

    def decoder(self) -> StreamDecoder: ...


def starts_first_alone(backend: object) -> bool:
    """Whether a run starts this backend's first turn alone, the others waiting until it
    streams (`engine.executors.Executors.warm_up`). A CLI that sets up its own files on
    first start and races doing it twice at once says so with a class attribute
    `first_start_alone`; a backend that does not say is treated as one that races."""
    return bool(getattr(backend, "first_start_alone", True))
