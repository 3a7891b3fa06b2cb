"""The executor interface: what the engine asks of whatever runs its effects.

Two implementations: `engine.executors.Executors` runs every effect on this machine (agent
turns as subprocesses); `scaleout.TemporalExecutor` sends agent turns to `plait worker`s
through a Temporal server and runs the rest here. The engine, the API and the faces see
only this Protocol, so where a turn runs changes nothing above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Usage

HERE = "local"  # where a turn runs when this machine runs it
# A placement that says why a turn under way cannot go on (`plait ps` shows it as the
# task's `waits_for`): WAITS + the reason.
WAITS = "waits: "


def held_by(where: str | None) -> str:
    """What a turn under way waits for, from its placement ("" when it goes on)."""
    return where[len(WAITS) :] if where and where.startswith(WAITS) else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    """One worker as `plait workers` and `/api/workers` show it."""

    name: str
    host: str
    slots: int
    busy: int
    agents: tuple[str, ...]
    last_heartbeat: float  # epoch seconds
    state: str  # running | stopping | stopped | lost

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "host": self.host,
            "slots": self.slots,
            "busy": self.busy,
            "agents": list(self.agents),
            "last_heartbeat": self.last_heartbeat,
            "state": self.state,
        }


class Executor(Protocol):
    async def run(self, effect: fx.Effect) -> ev.Event:
        """Carry out `effect`; always answers with its result event (a failure is an
        event too). Only cancellation escapes."""
        ...

    def interrupt(self, effect_id: str) -> bool:
        """A person stopped the task: when the turn's run is cancelled next it answers
        `AgentFinished(failure="killed")`. False when no such turn runs here, or when it
        is already being stopped (the caller then cancels nothing)."""
        ...

    def abandon(self, effect_id: str) -> None:
        """A decision dropped the effect: its run is about to be cancelled, and nothing of
        it may go on anywhere (a remote turn is cancelled too)."""
        ...

    def live_usage(self) -> dict[str, tuple[Usage, bool]]:
        """Per task, what its turn under way reported so far (and whether that is a
        session's running total)."""
        ...

    def placement(self) -> dict[str, str]:
        """Per task with a turn under way, where it runs: `HERE` or a worker's name."""
        ...

    async def workers(self) -> Sequence[WorkerInfo]:
        """The workers that can take turns ([] when turns run here). ExecutorError when
        the server that knows them cannot be asked."""
        ...

    @property
    def describe(self) -> str:
        """Where turns run, in the flag's words (`local`, `temporal://HOST:PORT/QUEUE`)."""
        ...
