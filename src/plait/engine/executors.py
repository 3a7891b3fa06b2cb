"""The local executor: each effect becomes one call on a shell here and one result event.

`Executors` implements `engine.executor.Executor` for this machine (agent turns run as
subprocesses); `scaleout.TemporalExecutor` wraps it to send agent turns to workers.

Every executor is safe to run again after a crash (at-least-once): the shells are
idempotent (worktree reuse, PR per branch, merge trailer, resolved threads). An exception
never escapes: it becomes a failure event the controller counts and retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from plait import processes
from plait.agents.base import AgentBackend, TurnSpec, starts_first_alone
from plait.agents.command import CommandBackend
from plait.agents.events import AgentEvent, Garbage, SessionStarted, UsageReport
from plait.agents.prompts import render_prompt
from plait.agents.runner import TurnOutcome, run_turn
from plait.core import codec
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Usage
from plait.engine import risk
from plait.engine.agent_env import AgentEnvironment
from plait.engine.executor import HERE, WorkerInfo
from plait.engine.interrupted import (
    PROMPT,
    TURN_STOPPED,
    Interrupted,
    left_behind,
    prompt_row,
    read_attempts,
)
from plait.engine.landing import Landed, MainLanding
from plait.engine.reviewer import read_prompt_files, run_review
from plait.engine.turn_end import TurnEnd
from plait.forges.base import Forge, MergeBlocked
from plait.store.sqlite import TranscriptEntry
from plait.workspaces.base import Workspaces
from plait.workspaces.containers import Container, Containerized
from plait.workspaces.git import side_by_side

log = logging.getLogger(__name__)

Clock = Callable[[], float]

_STOPPED_ROW = json.dumps({"text": "stopped by a person; `plait retry` continues its session"})


class ProcessBook(Protocol):
    """Where running agent process groups are written down (see engine.reaper)."""

    def remember(self, effect_id: str, pid: int) -> None: ...

    def forget(self, effect_id: str) -> None: ...


# (task, effect id, kind, body): one transcript entry.
TranscriptSink = Callable[[str, str, str, str], None]
# (task, effect id) → the transcript rows of that effect so far (see engine.interrupted).
TranscriptReader = Callable[[str, str], Iterable[TranscriptEntry]]


class Executors:
    def __init__(
        self,
        *,
        project: str,
        forge: Forge,
        workspaces: Workspaces,
        backend_for: Callable[[str], AgentBackend],
        transcript: TranscriptSink,
        clock: Clock = time.time,
        prompts_dir: Path | None = None,
        idle_timeout: float | None = 600.0,
        turn_timeout: float | None = 3600.0,
        processes: ProcessBook | None = None,
        warm_up_wait: float = 5.0,
        attempts: TranscriptReader | None = None,
        environment: AgentEnvironment | None = None,
        container: Container | None = None,
        landing: MainLanding | None = None,
    ) -> None:
        self.project = project
        self.forge = forge
        self.workspaces = workspaces
        self.backend_for = backend_for
        self.transcript = transcript
        self.clock = clock
        self.prompts_dir = prompts_dir
        self.idle_timeout = idle_timeout
        self.turn_timeout = turn_timeout
        self.processes = processes
        self.warm_up_wait = warm_up_wait
        self.attempts = attempts
        self.environment = environment or AgentEnvironment(project=project)
        self.container = container  # run every agent turn in this container, when set
        self.landing = landing  # merges into main for merge landing (see engine.landing)
        self.turn_end = TurnEnd(workspaces=workspaces, transcript=transcript, clock=clock)
        # Backend → set once its first turn of this run is up and streaming (see _warm_up).
        self._warm: dict[str, asyncio.Event] = {}
        self._turns: dict[str, tuple[str, Seen]] = {}  # turns under way: effect → task, seen
        self._interrupted: set[str] = set()  # ... of those, the ones a person stopped

    describe = HERE

    def live_usage(self) -> dict[str, tuple[Usage, bool]]:
        """Per task, what its turn under way has reported so far (and whether that is a
        session's running total): the faces add it to the task's counted usage."""
        return {task: (seen.usage, seen.cumulative) for task, seen in self._turns.values()}

    def placement(self) -> dict[str, str]:
        return {task: HERE for task, _ in self._turns.values()}

    def abandon(self, effect_id: str) -> None:
        """Nothing to do: cancelling the run stops a local turn's process group."""

    async def workers(self) -> Sequence[WorkerInfo]:
        return ()

    def interrupt(self, effect_id: str) -> bool:
        """Mark a running agent turn as stopped by a person: when its run is cancelled it
        answers `AgentFinished(failure="killed")` instead of vanishing. False when no such
        turn runs here."""
        if effect_id not in self._turns:
            return False
        self._interrupted.add(effect_id)
        return True

    async def agent_process(
        self,
        backend: AgentBackend,
        spec: TurnSpec,
        effect_id: str,
        on_event: Callable[[AgentEvent], None],
        *,
        idle_timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> TurnOutcome:
        """One agent CLI run for an effect: plait's timeouts and environment, and its
        process group written down while it runs (engine.reaper kills it after a crash)."""
        book = self.processes
        try:
            return await run_turn(
                backend,
                spec,
                on_event=on_event,
                idle_timeout=idle_timeout or self.idle_timeout,
                turn_timeout=self.turn_timeout,
                base_env=os.environ if env is None else env,
                on_spawn=(lambda pid: book.remember(effect_id, pid)) if book else None,
            )
        finally:
            if book is not None:
                book.forget(effect_id)

    def record(self, task: str, effect_id: str, event: AgentEvent) -> None:
        """One agent event in the task's transcript."""
        self.transcript(task, effect_id, type(event).__name__, render_event(event))

    async def run(self, effect: fx.Effect) -> ev.Event:
        try:
            return await self._run(effect)
        except MergeBlocked as exc:
            return self._failed(effect, exc.reason, retryable=exc.retryable, held=exc.held)
        except Exception as exc:  # an effect must always answer with an event
            log.debug("effect %s failed", effect.id, exc_info=True)
            if isinstance(effect, fx.RunReviewer):
                return ev.Reviewed(
                    at=self.clock(),
                    effect_id=effect.id,
                    task=effect.task,
                    ok=False,
                    agent=effect.agent,
                    model=effect.model,
                    failure="crash",
                    error=describe_error(exc),
                )
            if isinstance(effect, fx.RunAgent):
                return ev.AgentFinished(
                    at=self.clock(),
                    effect_id=effect.id,
                    task=effect.task,
                    ok=False,
                    failure="crash",
                    error=describe_error(exc),
                )
            return self._failed(effect, describe_error(exc), retryable=True)

    def _failed(
        self, effect: fx.Effect, error: str, *, retryable: bool, held: bool = False
    ) -> ev.Event:
        return ev.StepFailed(
            at=self.clock(),
            effect_id=effect.id,
            task=effect.task,
            error=error,
            retryable=retryable,
            held=held,
        )

    def _done(self, effect: fx.Effect) -> ev.Event:
        return ev.StepDone(at=self.clock(), effect_id=effect.id, task=effect.task)

    async def _run(self, effect: fx.Effect) -> ev.Event:
        now = self.clock
        base = {"effect_id": effect.id, "task": effect.task}
        match effect:
            case fx.PrepareWorkspace() if effect.cwd:
                # A mission working in a directory of its own: plait creates nothing there.
                if not os.path.isdir(effect.cwd):
                    return self._failed(effect, f"{effect.cwd} is not a directory", retryable=False)
                return ev.WorkspaceReady(at=now(), **base, path=effect.cwd, base_sha="")
            case fx.PrepareWorkspace():
                prepared = await self.workspaces.prepare(
                    task=effect.task, branch=effect.branch, base_branch=effect.base_branch
                )
                return ev.WorkspaceReady(
                    at=now(), **base, path=prepared.path, base_sha=prepared.base_sha
                )
            case fx.RunAgent():
                return await self._run_agent(effect)
            case fx.Push():
                head = await self.forge.push(
                    branch=effect.branch, worktree=effect.worktree, force=effect.force
                )
                return ev.Pushed(at=now(), **base, head_sha=head)
            case fx.OpenPR():
                pr = await self.forge.open_pr(
                    task=effect.task,
                    branch=effect.branch,
                    base=effect.base,
                    title=effect.title,
                    body=effect.body,
                )
                return ev.PROpened(at=now(), **base, number=pr.number, url=pr.url)
            case fx.MarkReady():
                await self.forge.mark_ready(effect.pr)
                return self._done(effect)
            case fx.Retarget():
                await self.forge.retarget(effect.pr, effect.base)
                return self._done(effect)
            case fx.ResolveThreads():
                await self.forge.resolve_threads(
                    effect.pr, effect.thread_ids, effect.reply, key=effect.id
                )
                return self._done(effect)
            case fx.Rebase():
                return await self._sync(effect)
            case fx.RunReviewer():
                return await run_review(self, effect)
            case fx.AssessRisk():
                return await risk.assess(self.forge, effect, self.clock)
            case fx.MergeToMain():
                return await self._merge_to_main(effect)
            case fx.Merge():
                sha = await self.forge.merge(effect.pr, title=effect.title)
                return ev.Merged(at=now(), **base, sha=sha)
            case fx.Discard():
                if effect.pr:
                    await self.forge.close_pr(effect.pr)
                if effect.worktree or effect.branch:
                    await self.workspaces.remove(
                        task=effect.task, worktree=effect.worktree, branch=effect.branch, keep=False
                    )
                    await self.forge.delete_branch(effect.branch)
                return self._done(effect)
            case fx.Cleanup():
                # Nothing may keep running in a folder that is about to go away.
                await asyncio.to_thread(processes.stop_under, effect.worktree)
                await self.workspaces.remove(
                    task=effect.task,
                    worktree=effect.worktree,
                    branch=effect.branch,
                    keep=effect.keep,
                )
                if not effect.keep:
                    # The controller cleans up only after every child was retargeted, so
                    # the forge's copy of the landed branch can go too.
                    await self.forge.delete_branch(effect.branch)
                return self._done(effect)
        raise AssertionError(f"no executor for {type(effect).__name__}")

    async def _sync(self, effect: fx.Rebase) -> ev.Event:
        """Take `onto`'s new commits (a rebase, or a merge for merge landing's sync by
        merge); on conflict, git's attempt is undone and the agent is told what diverged."""
        base = {"at": 0.0, "effect_id": effect.id, "task": effect.task}
        if effect.by_merge:
            out = await self.workspaces.merge_in(
                worktree=effect.worktree, branch=effect.branch, onto=effect.onto
            )
        else:
            out = await self.workspaces.rebase(
                worktree=effect.worktree,
                branch=effect.branch,
                onto=effect.onto,
                upstream=effect.upstream,
            )
        base["at"] = self.clock()
        if out.ok:
            return ev.Rebased(**base, head_sha=out.head_sha, base_sha=out.base_sha)  # type: ignore[arg-type]
        detail = await self.workspaces.divergence(worktree=effect.worktree, onto=effect.onto)
        return ev.RebaseConflict(
            **base,  # type: ignore[arg-type]
            paths=out.conflict_paths,
            onto_sha=out.base_sha,
            detail=detail,
        )

    async def _merge_to_main(self, effect: fx.MergeToMain) -> ev.Event:
        if self.landing is None:
            raise MergeBlocked("this engine cannot merge into main", retryable=False)
        result = await self.landing.land(
            task=effect.task,
            branch=effect.branch,
            main=effect.main,
            title=effect.title,
            since=effect.since,
            verify=effect.verify,
        )
        common = {"at": self.clock(), "effect_id": effect.id, "task": effect.task}
        if isinstance(result, Landed):
            return ev.Merged(**common, sha=result.sha)  # type: ignore[arg-type]
        return ev.MergeRefused(
            **common,  # type: ignore[arg-type]
            why=result.why,
            evidence=result.evidence,
            main_sha=result.main_sha,
        )

    async def _run_agent(self, effect: fx.RunAgent) -> ev.Event:
        launch = effect.launch or fx.Launch()
        backend: AgentBackend = (
            CommandBackend(program=launch.command)
            if launch.command
            else self.backend_for(effect.agent)
        )
        if not launch.in_place and effect.turn.branch and not os.path.isdir(effect.worktree):
            # An agent deleted its worktree: the task's branch still holds its commits, so
            # the retried turn gets the worktree back instead of failing on it again.
            await self.workspaces.prepare(
                task=effect.task, branch=effect.turn.branch, base_branch=effect.turn.base_branch
            )
        earlier = read_attempts(self.attempts(effect.task, effect.id) if self.attempts else ())
        turn, session = await self._continue(effect, earlier)
        if turn.onto and not launch.in_place:
            # A conflict turn merges main as the forge has it, not the user's stale copy.
            turn = dataclasses.replace(turn, onto=await self.workspaces.agent_ref(turn.onto))
        extra = self.environment.memory_for(turn)
        prompt = render_prompt(turn, overrides_dir=self.prompts_dir, extra=extra)
        if effect.prompts:
            prompt = f"{read_prompt_files(effect.prompts)}\n\n{prompt}"
        spec = TurnSpec(
            prompt=prompt,
            workdir=effect.worktree,
            session_id=session,
            model=effect.model,
            effort=effect.effort,
            task_id=effect.task,
            project=self.project,
            kind=turn.kind,
            onto=turn.onto,
            allowed_tools=launch.allowed_tools,
        )
        in_place = launch.in_place  # a directory plait does not own: no git before or after
        # Side by side (P3: this runs while the turn holds its agent slot): the worktree's
        # HEAD and main's tip are read in different places and neither waits for the other.
        head, main_before = await side_by_side(
            self._head(effect.worktree, in_place=in_place), self.turn_end.main_mark()
        )
        env = self.environment.env(effect, os.environ)
        warm = await self.warm_up(effect.agent, backend)
        if self.container is not None:
            passed = tuple(backend.env(env, spec))
            backend = Containerized(backend, self.container, passed)

        seen = Seen()

        def on_event(event: AgentEvent) -> None:
            if warm is not None:
                warm.set()
            seen.add(event)
            if seen.keep(event):
                self.record(effect.task, effect.id, event)

        row = prompt_row(prompt, head_sha=head, session_id=session)
        self.transcript(effect.task, effect.id, PROMPT, row)
        started = time.monotonic()
        self._turns[effect.id] = (effect.task, seen)
        try:
            outcome = await self.agent_process(
                backend,
                spec,
                effect.id,
                on_event,
                idle_timeout=launch.idle_timeout or self.idle_timeout,
                env=env,
            )
        except asyncio.CancelledError:
            if effect.id not in self._interrupted:
                raise
            # Stopped by a person (`plait kill`): the process group is dead; say so, in
            # the transcript too, which would otherwise end as if the turn still ran.
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            self.transcript(effect.task, effect.id, TURN_STOPPED, _STOPPED_ROW)
            return self._killed(effect, seen, time.monotonic() - started, earlier)
        finally:
            self._turns.pop(effect.id, None)
            self._interrupted.discard(effect.id)
            if warm is not None:
                warm.set()
        if dropped := seen.dropped():
            self.transcript(effect.task, effect.id, "Warning", dropped)
        return await self.turn_end.finish(effect, outcome, main_before=main_before, earlier=earlier)

    async def _head(self, worktree: str, *, in_place: bool) -> str:
        """The worktree's HEAD before a turn ("" in a directory plait does not own)."""
        if in_place:
            return ""
        return (await self.workspaces.work_state(worktree=worktree)).head_sha

    def _killed(
        self, effect: fx.RunAgent, seen: Seen, seconds: float, earlier: Interrupted
    ) -> ev.AgentFinished:
        return killed(effect, at=self.clock(), seen=seen, seconds=seconds, earlier=earlier)

    async def _continue(self, effect: fx.RunAgent, earlier: Interrupted) -> tuple[fx.Turn, str]:
        """The turn to run and the session to run it in, after `earlier` attempts at it
        were cut off by a crash: the session they announced continues, told so."""
        turn = effect.turn
        if not earlier.attempts:
            return turn, effect.session_id
        left = ""
        if earlier.head_sha:
            state = await self.workspaces.work_state(
                worktree=effect.worktree, since=earlier.head_sha
            )
            left = left_behind(state)
        note = f"An earlier attempt at this turn was cut off.\n{left}".strip() if left else ""
        if earlier.session_id:
            resumed = dataclasses.replace(turn, kind="continue", summary=note)
            return resumed, earlier.session_id
        # No session to continue: a fresh one must at least know what is there.
        summary = f"{turn.summary.strip()}\n\n{note}".strip()
        return dataclasses.replace(turn, summary=summary), effect.session_id

    async def warm_up(self, agent: str, backend: AgentBackend) -> asyncio.Event | None:
        """The first turn of a backend in a run starts alone; the others wait until it
        streams. Some CLIs set up their own files on first start (opencode migrates its
        database, gemini rewrites its settings), and two first starts at once race: one
        dies reading a half-written file. A first turn that is stopped or slow to print
        must not hold every other task back, so the wait lasts `warm_up_wait` at most.
        A backend that starts safely side by side (`agents.base.starts_first_alone`:
        claude) skips this: its other first turns would only wait. Returns the event to
        set when this is that turn.
        """
        if not starts_first_alone(backend):
            return None
        warm = self._warm.get(agent)
        if warm is None:
            self._warm[agent] = warm = asyncio.Event()
            return warm
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.warm_up_wait):
                await warm.wait()
        return None


def killed(
    effect: fx.RunAgent,
    *,
    at: float,
    seen: Seen,
    seconds: float = 0.0,
    earlier: Interrupted | None = None,
) -> ev.AgentFinished:
    """The answer of a turn a person stopped (`plait kill`), with what it had used."""
    earlier = earlier or Interrupted()
    return ev.AgentFinished(
        at=at,
        effect_id=effect.id,
        task=effect.task,
        ok=False,
        failure="killed",
        error="the agent was stopped (plait kill)",
        session_id=seen.session_id or effect.session_id,
        usage=seen.usage,
        usage_cumulative=seen.cumulative,
        seconds=round(seconds, 3),
        interrupted_turns=earlier.attempts,
        interrupted_usage=earlier.usage,
        interrupted_seconds=earlier.seconds,
    )


GARBAGE_KEPT = 500  # non-stream lines of one turn the transcript keeps


class Seen:
    """The session and usage a turn's events reported so far (for a turn cut short)."""

    def __init__(self) -> None:
        self.session_id = ""
        self.usage = Usage()
        self.cumulative = False
        self.garbage = 0  # lines that were not the agent's stream

    def keep(self, event: AgentEvent) -> bool:
        """Whether the transcript gets this event: an agent printing millions of lines of
        noise must not write millions of rows (the first GARBAGE_KEPT are kept)."""
        if not isinstance(event, Garbage):
            return True
        self.garbage += 1
        return self.garbage <= GARBAGE_KEPT

    def dropped(self) -> str:
        """The body of the Warning row that says how many lines `keep` left out ("" when
        none were): a turn on a worker writes the same one."""
        if self.garbage <= GARBAGE_KEPT:
            return ""
        text = f"{self.garbage - GARBAGE_KEPT} more lines that were not the agent's stream"
        return json.dumps({"text": text})

    def add(self, event: AgentEvent) -> None:
        if isinstance(event, SessionStarted):
            self.session_id = event.session_id
        elif isinstance(event, UsageReport):
            if event.cumulative:
                self.usage, self.cumulative = event.usage, True
            elif not self.cumulative:
                self.usage = self.usage + event.usage


def render_event(event: AgentEvent) -> str:
    """An agent event as its transcript row's body (the raw line left out)."""
    fields = {name: codec.encode(value) for name, value in event.payload().items()}
    return json.dumps(fields, separators=(",", ":"))


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 2000 else text[:2000] + "…"
