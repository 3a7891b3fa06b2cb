"""The early conflict warning as a source: it watches the live branches and tells the
core (`OverlapsChanged`) where they would conflict with each other or with main.

Every few seconds it reads the heads of the live tasks' branches and of main with one
`git for-each-ref`; only when one of them moved does it ask `ConflictFinder` (which runs
`git merge-tree` for what changed), and it submits an event only for a task whose
overlaps differ from what the core already holds. A git failure is logged and tried again
at the next look: a warning must never stop the engine.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from plait.core import events as ev
from plait.core.model import Phase, RunState
from plait.core.taskmap import live_tasks
from plait.engine.project import Project
from plait.errors import PlaitError
from plait.sources import FACTORIES, Source, SourceContext
from plait.workspaces.conflicts import ConflictFinder, ref_heads

log = logging.getLogger(__name__)
LOOK_EVERY = 2.0  # seconds between two looks at the branch heads


@dataclass
class ConflictWatch:
    repo: str
    main_ref: str  # refs/heads/main, or the remote-tracking ref where a forge merges
    every: float = LOOK_EVERY
    name: str = "conflicts"

    async def run(self, ctx: SourceContext) -> None:
        finder = ConflictFinder(self.repo)
        seen: tuple[object, ...] | None = None
        while True:
            try:
                seen = await self.look(ctx, finder, seen)
            except (PlaitError, OSError) as exc:
                log.warning("the early conflict warning could not look at the branches: %s", exc)
            await asyncio.sleep(self.every)

    async def look(
        self, ctx: SourceContext, finder: ConflictFinder, seen: tuple[object, ...] | None
    ) -> tuple[object, ...]:
        """One look; returns what it saw (the heads), to compare with at the next."""
        state = ctx.state()
        branches = _live_branches(state)
        refs = await ref_heads(
            self.repo, [self.main_ref, *(f"refs/heads/{b}" for b in branches.values())]
        )
        main = refs.get(self.main_ref, "")
        heads = {
            tid: refs[f"refs/heads/{branch}"]
            for tid, branch in branches.items()
            if f"refs/heads/{branch}" in refs
        }
        now_seen = (main, tuple(sorted(heads.items())))
        if now_seen == seen or not main:
            return now_seen
        found = await finder.find(main, heads)
        state = ctx.state()  # the engine moved on while git ran
        for tid, overlaps in found.items():
            t = state.tasks.get(tid)
            if t is not None and t.phase is Phase.ACTIVE and t.overlaps != overlaps:
                await ctx.submit(ev.OverlapsChanged(at=ctx.clock(), task=tid, overlaps=overlaps))
        return now_seen


def _live_branches(state: RunState) -> dict[str, str]:
    """task → branch, for the tasks with work on a branch that has not landed."""
    return {
        t.id: t.branch
        for t in live_tasks(state)
        if t.phase is Phase.ACTIVE and t.branch and t.worktree
    }


def conflict_watch(project: Project) -> Source | None:
    """The watch for a project, unless its plait.toml says `[conflicts] warn = false`."""
    eff = project.effective()
    if not eff.conflicts_warn:
        return None
    s = eff.settings
    main = f"refs/heads/{s.main_branch}"
    if s.forge != "local":
        main = f"refs/remotes/{s.remote}/{s.main_branch}"
    return ConflictWatch(repo=s.repo, main_ref=main)


FACTORIES.append(conflict_watch)
