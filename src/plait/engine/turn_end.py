"""The end of an agent turn, wherever it ran: what the core hears as `AgentFinished`.

How this works. A turn runs here (`engine.executors`) or on a worker (`scaleout`); either
way, once the agent's process is done and its commit is in the task's worktree of record,
the same steps follow, in this order:

1. the changes the agent left uncommitted are committed (not in a directory plait does
   not own: an in-place task's folder is the user's);
2. main is checked (`workspaces.mainguard`) against the tip noted before the turn — for
   in-place tasks too — and an agent that moved it fails the turn as `forbidden`;
3. the final answer's signals are read (`agents.signals`): NOTHING TO DO, `plait-tasks`
   proposals, whether the change is ticket files only;
4. the turn's earlier attempts that were cut off (`engine.interrupted`) are counted.

An executor only has to say what the agent's process did (`TurnOutcome`) and what was cut
off before (`Interrupted`): every rule applies to every turn, whatever ran it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from plait.agents import signals
from plait.agents.runner import TurnOutcome
from plait.core import effects as fx
from plait.core import events as ev
from plait.engine.interrupted import Interrupted
from plait.textsafe import no_surrogates
from plait.workspaces.base import TurnCommit, Workspaces
from plait.workspaces.mainguard import FORBIDDEN

# (task, effect id, kind, body): one transcript entry.
TranscriptSink = Callable[[str, str, str, str], None]

WARNING = "Warning"  # the transcript kind of what plait tells a person about a turn


def in_place(effect: fx.RunAgent) -> bool:
    """The turn works in a directory plait does not own: no commit of plait's there."""
    return (effect.launch or fx.Launch()).in_place


class TurnEnd:
    """The steps after every agent turn; one per executor, sharing its shells."""

    def __init__(
        self, *, workspaces: Workspaces, transcript: TranscriptSink, clock: Callable[[], float]
    ) -> None:
        self.workspaces = workspaces
        self.transcript = transcript
        self.clock = clock

    async def main_mark(self) -> str:
        """main's tip before a turn, to check it against afterwards (every turn: an
        in-place task's folder may be the repository itself)."""
        return await self.workspaces.main_mark()

    async def finish(
        self,
        effect: fx.RunAgent,
        outcome: TurnOutcome,
        *,
        main_before: str,
        earlier: Interrupted | None = None,
    ) -> ev.AgentFinished:
        """The turn's answer to the core, after the steps above."""
        commit = await self._commit(effect)
        touched = await self.guard_main(
            effect, before=main_before, worktree=effect.worktree, head=commit.head_sha
        )
        if touched:
            outcome = dataclasses.replace(outcome, ok=False, failure=FORBIDDEN, error=touched)
        reply = no_surrogates(outcome.reply) if outcome.ok else ""
        signalled = await self._signals(effect, reply, commit)
        earlier = earlier or Interrupted()
        return ev.AgentFinished(
            at=self.clock(),
            effect_id=effect.id,
            task=effect.task,
            ok=outcome.ok,
            session_id=outcome.session_id,
            usage=outcome.usage,
            seconds=round(outcome.seconds, 3),
            reply=no_surrogates(outcome.reply),
            error=no_surrogates(outcome.error),
            failure=outcome.failure,
            commits_ahead=commit.commits_ahead,
            head_sha=commit.head_sha,
            reset_at=outcome.reset_at,
            usage_cumulative=outcome.usage_cumulative,
            interrupted_turns=earlier.attempts,
            interrupted_usage=earlier.usage,
            interrupted_seconds=earlier.seconds,
            exit_code=outcome.exit_code,
            **signalled,  # type: ignore[arg-type]
        )

    async def guard_main(
        self, effect: fx.Effect, *, before: str, worktree: str, head: str = ""
    ) -> str:
        """What the turn in `worktree` did to main, after main was put back ("" when it
        left main alone); the transcript says so too. `head`: the worktree's HEAD, when
        known."""
        if not before:
            return ""
        touched = await self.workspaces.guard_main(before=before, worktree=worktree, head=head)
        if touched:
            self.warn(effect, touched)
        return touched

    def warn(self, effect: fx.Effect, text: str) -> None:
        self.transcript(effect.task, effect.id, WARNING, json.dumps({"text": text}))

    async def _commit(self, effect: fx.RunAgent) -> TurnCommit:
        if in_place(effect):
            return TurnCommit(head_sha="", commits_ahead=0)
        return await self.workspaces.finish_turn(
            worktree=effect.worktree,
            base_sha=effect.base_sha,
            task=effect.task,
            message=f"{effect.turn.title}\n\nChanges the agent left uncommitted.",
        )

    async def _signals(
        self, effect: fx.RunAgent, reply: str, commit: TurnCommit
    ) -> dict[str, object]:
        """What a merge-landing worker's answer signalled (see agents.signals), and whether
        its change is ticket files only."""
        if not effect.tickets:
            return {}
        out: dict[str, object] = {"nothing_to_do": signals.nothing_to_do(reply)}
        if effect.proposals and reply:
            proposed, problems = signals.proposals(reply, effect.task)
            out["proposed"] = proposed
            for problem in problems:
                self.warn(effect, f"a proposed task was left out: {problem}")
        if commit.commits_ahead:
            paths = await self.workspaces.changed_paths(
                worktree=effect.worktree, base_sha=effect.base_sha
            )
            folder = effect.tickets.strip("/") + "/"
            out["tickets_only"] = bool(paths) and all(p.startswith(folder) for p in paths)
        return out
