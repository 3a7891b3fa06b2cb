"""A BENCHMARK DOUBLE: an executor and a forge that answer every effect at once.

For P2 (bench/README.md), which measures the engine's own cost per event in a closed
loop: a real `plait.engine.loop.Engine` over a real SQLite store runs a whole plan, and
every effect it dispatches is answered by `InstantExecutor` the moment it starts, with
the result the simulated world of `plait.testing.core_world.SimWorld` gives (the one
`CoreDriver` plays runs in): worktrees are made, agent turns finish with a commit,
pushes land, PRs open, merges land. `InstantForge` is that world's forge: when the engine
polls, the CI of every new head finishes (red with probability `ci_fail`) and a green PR
may get a review thread (`review`), so the run also goes through CI fixes and review
rounds. Nothing runs, nothing waits: what is left is the engine deciding, narrating,
committing and dispatching. Never for a real project.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import CIStatus, PRView
from plait.testing.core_world import SimWorld
from plait.testing.idle_engine import HereOnly


class InstantWorld:
    """The simulated repository and forge both doubles act on, and its chance of trouble."""

    def __init__(
        self,
        *,
        main: str = "main",
        seed: int = 0,
        ci_fail: float = 0.0,
        review: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.world = SimWorld(main=main, agent_seconds=0.0, ci_seconds=0.0)
        self.rng = random.Random(seed)
        self.ci_fail = ci_fail
        self.review = review
        self.clock = clock
        self.answered = 0  # effects answered

    def executor(self) -> InstantExecutor:
        return InstantExecutor(self)

    def forge(self) -> InstantForge:
        return InstantForge(self)


class InstantExecutor(HereOnly):
    """Answers each effect at once with its simulated result (a benchmark double)."""

    def __init__(self, world: InstantWorld) -> None:
        self.w = world

    async def run(self, effect: fx.Effect) -> ev.Event:
        self.w.answered += 1
        return self.w.world.apply(effect, "ok", self.w.clock())

    @property
    def describe(self) -> str:
        return "instant (benchmark double)"


class InstantForge:
    """The simulated world's forge as the engine's poller sees it (a benchmark double)."""

    name = "instant"

    def __init__(self, world: InstantWorld) -> None:
        self.w = world

    def suggested_poll_interval(self, base: float) -> float:
        return base

    async def poll(self, prs: Mapping[str, int]) -> dict[str, PRView]:
        w, sim = self.w, self.w.world
        out: dict[str, PRView] = {}
        for task in prs:
            pr = sim.prs.get(task)
            if pr is None:
                continue
            if sim.ci.get(pr.head) is CIStatus.PENDING:
                passed = w.rng.random() >= w.ci_fail
                sim.complete_ci(pr.head, task, passed=passed)
                if passed and pr.state == "open" and w.rng.random() < w.review:
                    sim.add_thread(task)
            out[task] = sim.view(task)
        return out

    async def serve(self) -> None:
        return None

    async def close(self) -> None:
        return None
