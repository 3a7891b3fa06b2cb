"""Running a reviewer's turn: the diff and the task in, a parsed verdict out.

The reviewer runs on its own backend and model, in a fresh session, in the task's worktree
(so it can read the files around the diff). It must not change anything: the worktree is
put back at the judged head afterwards, and whatever it left is reported; a reviewer that
moved main is caught as a worker would be (`engine.turn_end`): main goes back and the
task stops with the reason, `forbidden`. Its answer is
parsed by `plait.review.verdict` — anything but a clear APPROVED counts as needs-changes
with the reason — and, for a PR landing, posted on the PR as a review.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from plait.agents.base import AgentBackend, TurnSpec
from plait.agents.events import AgentEvent
from plait.agents.runner import TurnOutcome
from plait.core import effects as fx
from plait.core import events as ev
from plait.engine.turn_end import TurnEnd
from plait.errors import AgentError
from plait.forges.base import Forge
from plait.review.prompt import DIFF_LIMIT, ReviewInput, render_review
from plait.review.verdict import Verdict, parse_verdict, render_verdict
from plait.textsafe import no_surrogates
from plait.workspaces.base import Workspaces
from plait.workspaces.mainguard import FORBIDDEN

KIND = "verdict"  # the turn kind a reviewer's turn runs as (the script agent plays these)


class Shell(Protocol):
    """What a reviewer's turn needs of the executors (`engine.executors.Executors`)."""

    project: str
    forge: Forge
    workspaces: Workspaces
    backend_for: Callable[[str], AgentBackend]
    transcript: Callable[[str, str, str, str], None]
    clock: Callable[[], float]
    prompts_dir: Path | None
    turn_end: TurnEnd

    def record(self, task: str, effect_id: str, event: AgentEvent) -> None: ...

    async def agent_process(
        self,
        backend: AgentBackend,
        spec: TurnSpec,
        effect_id: str,
        on_event: Callable[[AgentEvent], None],
    ) -> TurnOutcome: ...

    async def warm_up(self, agent: str, backend: AgentBackend) -> asyncio.Event | None: ...


async def run_review(ex: Shell, effect: fx.RunReviewer) -> ev.Reviewed:
    backend = ex.backend_for(effect.agent)
    stat, diff = await ex.workspaces.diff(
        worktree=effect.worktree,
        base_sha=effect.base_sha,
        head_sha=effect.head_sha,
        limit=DIFF_LIMIT,
    )
    review = ReviewInput(
        title=effect.title,
        branch=os.path.basename(effect.worktree),
        description=effect.description,
        acceptance=effect.acceptance,
        reply=effect.reply,
        stat=stat,
        diff=diff,
        round=effect.round,
        feedback=effect.feedback,
    )
    preamble = read_prompt_files(effect.prompts)
    prompt = render_review(review, overrides_dir=ex.prompts_dir, preamble=preamble)
    spec = TurnSpec(
        prompt=prompt,
        workdir=effect.worktree,
        model=effect.model,
        effort=effect.effort,
        task_id=effect.task,
        project=ex.project,
        kind=KIND,
    )

    warm = await ex.warm_up(effect.agent, backend)

    def on_event(event: AgentEvent) -> None:
        if warm is not None:
            warm.set()
        ex.record(effect.task, effect.id, event)

    ex.transcript(effect.task, effect.id, "ReviewPrompt", json.dumps({"text": prompt}))
    main_before = await ex.turn_end.main_mark()
    try:
        outcome = await ex.agent_process(backend, spec, effect.id, on_event)
    finally:
        if warm is not None:
            warm.set()
    # Before the worktree is put back: its HEAD tells the reviewer's commits on main apart.
    touched = await ex.turn_end.guard_main(effect, before=main_before, worktree=effect.worktree)
    if touched:
        outcome = dataclasses.replace(outcome, ok=False, failure=FORBIDDEN, error=touched)
    if await ex.workspaces.restore(worktree=effect.worktree, head_sha=effect.head_sha):
        text = "the reviewer changed the worktree; plait put it back"
        ex.transcript(effect.task, effect.id, "Warning", json.dumps({"text": text}))
    common = {
        "at": ex.clock(),
        "effect_id": effect.id,
        "task": effect.task,
        "agent": effect.agent,
        "model": effect.model,
        "session_id": outcome.session_id,
        "usage": outcome.usage,
        "seconds": round(outcome.seconds, 3),
    }
    if not outcome.ok:
        return ev.Reviewed(
            **common,  # type: ignore[arg-type]
            ok=False,
            failure=outcome.failure,
            error=outcome.error,
            reset_at=outcome.reset_at,
        )
    verdict = parse_verdict(no_surrogates(outcome.reply))
    comes_back = await post_verdict(ex, effect, verdict) if effect.pr else True
    return ev.Reviewed(
        **common,  # type: ignore[arg-type]
        ok=True,
        approved=verdict.approved,
        issues=verdict.issues,
        reason=verdict.reason,
        comes_back=comes_back,
    )


async def post_verdict(ex: Shell, effect: fx.RunReviewer, verdict: Verdict) -> bool:
    """The verdict as a review on the task's PR; whether its issues come back as threads
    to answer (else the core hands them to the worker)."""
    body = render_verdict(verdict)
    if verdict.reason:
        body += f"\n({verdict.reason})\n"
    return await ex.forge.post_review(
        effect.pr, approved=verdict.approved, body=body, issues=verdict.issues, key=effect.id
    )


def read_prompt_files(paths: tuple[str, ...]) -> str:
    """The text of prompt files, in order (a worker's or a reviewer's own instructions)."""
    parts = []
    for path in paths:
        try:
            parts.append(Path(path).read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError) as exc:
            raise AgentError(
                f"cannot read prompt file {path}: {exc}",
                hint="fix the path in plait.toml ([swarm] or [review] prompts)",
            ) from exc
    return "\n\n".join(p for p in parts if p)
