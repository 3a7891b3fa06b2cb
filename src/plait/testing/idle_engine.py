"""An executor and a forge for an `Engine` whose effects never matter: a benchmark that
replays a recorded log (the log already holds every result) or a test that only reads
through the API. Effects dispatched to `IdleExecutor` wait until the engine stops."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import PRView, Usage
from plait.engine.executor import WorkerInfo


class HereOnly:
    """What an executor with no agent processes and no workers says to the engine and the
    API; a double adds `run` and `describe`."""

    def interrupt(self, effect_id: str) -> bool:
        return False

    def abandon(self, effect_id: str) -> None:
        return None

    def live_usage(self) -> dict[str, tuple[Usage, bool]]:
        return {}

    def placement(self) -> dict[str, str]:
        return {}

    async def workers(self) -> Sequence[WorkerInfo]:
        return []


class IdleExecutor(HereOnly):
    """Runs nothing: every effect waits (cancelled when the engine stops)."""

    async def run(self, effect: fx.Effect) -> ev.Event:
        await asyncio.Event().wait()
        raise AssertionError("an idle executor's effect never ends")

    @property
    def describe(self) -> str:
        return "idle"


class StillForge:
    """A forge where nothing changes between polls."""

    name = "still"

    def suggested_poll_interval(self, base: float) -> float:
        return base

    async def poll(self, prs: Mapping[str, int]) -> dict[str, PRView]:
        return {}

    async def serve(self) -> None:
        return None

    async def close(self) -> None:
        return None
