"""`TemporalExecutor`: the controller's side of running agent turns on workers.

How this works. Every effect type has a route (`ROUTES`): agent turns go to workers, the
rest (forge calls, the worktree of record, rebases, merges) run here through the local
`Executors`. For a turn the controller publishes the task worktree's HEAD as the turn's
start commit on the workers' git remote, picks the activity queues whose workers have the
turn's agent (most free slots first), and starts the turn's workflow with the effect id in
its workflow id (`plait/<project>/<project uid>/<effect id>`). Starting it again — after
a restart of the controller, say — finds the running workflow (or its result) instead of
starting a second turn: Temporal holds the turn, not this process.

It then follows the workflow's history (`history`): transcript batches become rows in
the store and name the worker the turn runs on, and the completion is the result. The
result's commit comes back through git (`handover`), the worktree of record moves to it,
and the turn ends as a local one does (`engine.turn_end`: main checked, the answer's
signals read), so the core hears the same `AgentFinished`. A kill cancels the workflow
(the worker stops the agent's process group when its next heartbeat brings the
cancellation) and answers "killed"; an engine that merely stops leaves the turn running
on its worker, to be picked up by `plait resume`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from plait.agents.prompts import read_overrides
from plait.agents.runner import TurnOutcome
from plait.core import codec
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Usage
from plait.engine.executor import WAITS, WorkerInfo, held_by
from plait.engine.executors import Executors, describe_error, killed
from plait.engine.interrupted import Interrupted
from plait.engine.turn_end import TurnEnd
from plait.errors import ExecutorError
from plait.plans.executor import ExecutorConfig
from plait.scaleout.connect import connect, unreachable
from plait.scaleout.handover import Handover
from plait.scaleout.history import HistoryReader, RemoteTurn
from plait.scaleout.jobs import (
    WORKFLOW,
    TurnDone,
    TurnJob,
)
from plait.scaleout.registry import list_workers
from plait.scaleout.routing import candidate_queues
from plait.scaleout.turns import usage_of
from plait.workspaces.base import Workspaces

log = logging.getLogger(__name__)

WORKERS = "workers"
CONTROLLER = "controller"

# Where each effect runs. Agent turns are the heavy part (a CLI of hundreds of MB, the
# builds and tests it runs); everything else is a forge call or quick git work on the
# worktree of record, which stays with the controller's repository. A new effect type
# must be added here (a test checks that every one is).
ROUTES: Mapping[type[fx.Effect], str] = {
    fx.PrepareWorkspace: CONTROLLER,
    fx.RunAgent: WORKERS,
    fx.Push: CONTROLLER,
    fx.OpenPR: CONTROLLER,
    fx.MarkReady: CONTROLLER,
    fx.Retarget: CONTROLLER,
    fx.Rebase: CONTROLLER,
    fx.ResolveThreads: CONTROLLER,
    fx.Merge: CONTROLLER,
    fx.Cleanup: CONTROLLER,
    fx.Discard: CONTROLLER,
    # A reviewer's turn reads the worktree of record and is short; it stays here.
    fx.RunReviewer: CONTROLLER,
    # A merge landing writes the repository's main under the project's lock.
    fx.MergeToMain: CONTROLLER,
    # A risk assessment reads the worktree of record (git diff) and labels the PR.
    fx.AssessRisk: CONTROLLER,
    # Notifications are sent by the engine's notifier, never by an executor.
    fx.Notify: CONTROLLER,
    # Issue writes are performed by the issue source beside the engine, never by a worker.
    fx.WriteIssue: CONTROLLER,
}

# The controller's own, whatever the route: the API socket and the CLI are this machine's.
_HERE_ONLY_ENV = frozenset({"PATH", "PLAIT_SOCKET"})


def runs_on_workers(effect: fx.Effect) -> bool:
    """Whether this effect goes to a worker: an agent turn on a task's branch. A mission's
    turn stays here — it works in a directory plait does not own, runs a program of the
    controller's, or talks to the controller's API to spawn and wait on missions."""
    if ROUTES.get(type(effect)) != WORKERS or not isinstance(effect, fx.RunAgent):
        return False
    launch = effect.launch or fx.Launch()
    bound = launch.in_place or launch.command or launch.parent or launch.name
    return not bound and not effect.turn.template and not effect.turn.in_place


REACH_AGAIN = 5.0  # seconds between tries to reach a Temporal server that went away
CANCEL_WAIT = 120.0  # seconds a kill waits for the worker to confirm the agent stopped

# (task, effect id, epoch seconds, kind, body): one transcript row.
TranscriptWriter = Callable[[str, str, float, str, str], None]
# (task, effect id) → how many transcript rows the store holds for that effect.
TranscriptCount = Callable[[str, str], int]


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerFacts:
    """What a turn needs to know of the project, beyond the effect."""

    project: str
    uid: str  # the project's own id: a project made again under the same name is new
    repo: str
    remote: str  # where workers fetch and push (may be the repository itself)
    backends: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    script: str | None = None  # the script backend's file
    prompts_dir: Path | None = None
    hook: str = ""
    idle_timeout: float | None = 600.0
    turn_timeout: float = 3600.0


class TemporalExecutor:
    def __init__(
        self,
        *,
        local: Executors,
        config: ExecutorConfig,
        facts: ControllerFacts,
        workspaces: Workspaces,
        transcript: TranscriptWriter,
        transcript_count: TranscriptCount,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.local = local
        self.config = config
        self.facts = facts
        self.workspaces = workspaces
        self.transcript = transcript
        self.transcript_count = transcript_count
        self.clock = clock
        self._client: Client | None = None
        self._connecting = asyncio.Lock()
        self._turns: dict[str, RemoteTurn] = {}
        self._interrupted: set[str] = set()
        self._abandoned: set[str] = set()
        self._workers: tuple[float, Sequence[WorkerInfo], ExecutorError | None] = (0.0, (), None)
        self.handover = Handover(facts.repo, facts.remote)
        # The same end as a local turn's: every signal and rule applies on a worker too.
        self.turn_end = TurnEnd(workspaces=workspaces, transcript=self._note, clock=clock)

    def _note(self, task: str, effect_id: str, kind: str, body: str) -> None:
        self.transcript(task, effect_id, self.clock(), kind, body)

    # ---- the Executor protocol --------------------------------------------------------------
    @property
    def describe(self) -> str:
        return self.config.url

    async def run(self, effect: fx.Effect) -> ev.Event:
        if not runs_on_workers(effect):
            return await self.local.run(effect)
        assert isinstance(effect, fx.RunAgent)
        remote = RemoteTurn(task=effect.task)
        try:
            return await self._turn(effect, remote)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # as locally: a turn that could not run is a crash
            log.warning("agent turn %s could not run on a worker: %s", effect.id, exc)
            error = describe_error(exc)
            # No worker reported an attempt: its agent never ran, so it is no turn taken.
            reached = remote.where != "waiting" and not held_by(remote.where)
            return ev.AgentFinished(at=self.clock(), effect_id=effect.id, task=effect.task,
                                    ok=False, failure="crash", error=error,
                                    started=reached)  # fmt: skip

    def interrupt(self, effect_id: str) -> bool:
        if effect_id not in self._turns:
            return self.local.interrupt(effect_id)
        if effect_id in self._interrupted:
            # Already being stopped: the engine asks again after every decision, and a
            # second cancellation would cut short the wait for the worker's answer.
            return False
        self._interrupted.add(effect_id)
        return True

    def abandon(self, effect_id: str) -> None:
        if effect_id in self._turns:
            self._abandoned.add(effect_id)
        self.local.abandon(effect_id)

    def live_usage(self) -> dict[str, tuple[Usage, bool]]:
        out = self.local.live_usage()
        for turn in self._turns.values():
            out[turn.task] = (turn.seen.usage, turn.seen.cumulative)
        return out

    def placement(self) -> dict[str, str]:
        out = self.local.placement()
        out.update({t.task: t.where for t in self._turns.values()})
        return out

    async def workers(self) -> Sequence[WorkerInfo]:
        """The queue's workers (asked of the server at most once a second); ExecutorError
        when the server cannot be asked."""
        at, known, problem = self._workers
        if time.monotonic() - at >= 1.0:
            try:
                known, problem = await list_workers(await self.client(), self.config.task_queue,
                                                    now=time.time()), None  # fmt: skip
            except ExecutorError as exc:
                known, problem = (), exc
            self._workers = (time.monotonic(), known, problem)
        if problem is not None:
            raise problem
        return known

    async def client(self) -> Client:
        async with self._connecting:
            if self._client is None:
                self._client = await connect(self.config)
            return self._client

    # ---- one turn ----------------------------------------------------------------------------
    async def _turn(self, effect: fx.RunAgent, remote: RemoteTurn) -> ev.Event:
        # Known from the start, so that a kill or a drop while the turn is being handed
        # out is not missed (the engine asks `interrupt` before it cancels the run).
        self._turns[effect.id] = remote
        handle: WorkflowHandle[Any, TurnDone] | None = None
        try:
            main_before = await self.turn_end.main_mark()
            while True:
                try:
                    client = await self.client()
                    job = await self._job(effect)
                    remote.queue = job.queues[0]
                    handle = await self._start(client, job)
                    if held_by(remote.where):
                        remote.where = "waiting"  # reached again: its history says where
                    done = await self._follow(client, handle, effect, remote)
                    break
                except Exception as exc:
                    gone = unreachable(exc, self.config.address)
                    if gone is None:
                        raise
                    # Not the turn's fault: it waits for the server (the workflow, if
                    # started, goes on) instead of spending the task's attempts as crashes.
                    log.warning("turn %s waits for Temporal: %s", effect.id, gone)
                    remote.where = WAITS + f"{gone.message} ({gone.hint})"
                    await asyncio.sleep(REACH_AGAIN)
        except asyncio.CancelledError:
            if effect.id not in self._interrupted and effect.id not in self._abandoned:
                raise  # the engine stops: the turn goes on, and a restart picks it up
            client_now = self._client
            if client_now is not None:
                # Even unanswered, a start may have reached the server: cancel by id.
                handle = handle or client_now.get_workflow_handle(
                    self.workflow_id(effect.id), result_type=TurnDone
                )
                await self._cancel(client_now, handle, effect, remote)
            if effect.id not in self._interrupted:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            return killed(effect, at=self.clock(), seen=remote.seen)
        finally:
            self._turns.pop(effect.id, None)
            self._interrupted.discard(effect.id)
            self._abandoned.discard(effect.id)
        return await self._finish(effect, job, done, main_before)

    async def _job(self, effect: fx.RunAgent) -> TurnJob:
        f = self.facts
        head = (await self.workspaces.work_state(worktree=effect.worktree)).head_sha
        launch = effect.launch or fx.Launch()
        environment = self.local.environment
        env = {k: v for k, v in environment.env(effect, {}).items() if k not in _HERE_ONLY_ENV}
        box = self.local.container
        job = TurnJob(
            project=f.project,
            project_uid=f.uid,
            effect_id=effect.id,
            task=effect.task,
            agent=effect.agent,
            turn=_dict(codec.encode(effect.turn)),
            session_id=effect.session_id,
            model=effect.model,
            branch=effect.turn.branch,
            remote=f.remote,
            start_sha=head,
            base_sha=effect.base_sha,
            queues=await self._queues(effect.agent),
            options=dict(f.backends.get(effect.agent, {})),
            script=_read_text(f.script) if effect.agent == "script" and f.script else "",
            templates=read_overrides(f.prompts_dir),
            hook=f.hook,
            env=env,
            extra=environment.memory_for(effect.turn),
            allowed_tools=list(launch.allowed_tools),
            container_image=box.image if box is not None else "",
            container_engine=os.path.basename(box.engine) if box is not None else "",
            idle_timeout=launch.idle_timeout or f.idle_timeout or 0.0,
            turn_timeout=f.turn_timeout,
            heartbeat_timeout=self.config.heartbeat_timeout,
        )
        await self.handover.publish(job)
        return job

    async def _queues(self, agent: str) -> list[str]:
        mine: dict[str, int] = {}
        for turn in self._turns.values():
            mine[turn.queue] = mine.get(turn.queue, 0) + 1
        try:
            workers = await self.workers()
        except ExecutorError as exc:  # the turn then waits on the agent's own queue
            log.debug("cannot list workers: %s", exc)
            workers = ()
        return candidate_queues(workers, self.config.task_queue, agent, mine=mine)

    def workflow_id(self, effect_id: str) -> str:
        return f"plait/{self.facts.project}/{self.facts.uid}/{effect_id}"

    async def _start(self, client: Client, job: TurnJob) -> WorkflowHandle[Any, TurnDone]:
        wid = self.workflow_id(job.effect_id)
        try:
            return await client.start_workflow(
                WORKFLOW,
                job,
                id=wid,
                task_queue=self.config.task_queue,
                result_type=TurnDone,
                # One turn per effect id, ever: a running one is joined, a finished one
                # gives its result.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:
            return client.get_workflow_handle(wid, result_type=TurnDone)

    async def _follow(
        self,
        client: Client,
        handle: WorkflowHandle[Any, TurnDone],
        effect: fx.RunAgent,
        remote: RemoteTurn,
    ) -> TurnDone:
        """Read the workflow's history to its end: transcript, worker, result."""

        def write(at: float, kind: str, body: str) -> None:
            self.transcript(effect.task, effect.id, at, kind, body)

        stored = self.transcript_count(effect.task, effect.id)
        reader = HistoryReader(client.data_converter, remote, stored=stored, write=write)
        async for event in handle.fetch_history_events(wait_new_event=True):
            done = await reader.read(event)
            if done is not None:
                return done
        raise ExecutorError(
            f"the history of turn {effect.id} ended before its result",
            hint="look at the workflow in Temporal's UI",
        )

    async def _cancel(
        self,
        client: Client,
        handle: WorkflowHandle[Any, TurnDone],
        effect: fx.RunAgent,
        remote: RemoteTurn,
    ) -> None:
        """Cancel the turn on its worker and wait (a while) until the agent is stopped."""
        with contextlib.suppress(Exception):
            await handle.cancel()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CANCEL_WAIT):
                await self._follow(client, handle, effect, remote)

    async def _finish(
        self, effect: fx.RunAgent, job: TurnJob, done: TurnDone, main_before: str
    ) -> ev.Event:
        """Bring the turn's commit into the worktree of record; answer the core."""
        if done.pushed and done.head_sha:
            await self.handover.take(job, done, effect.worktree)
        event = await self.turn_end.finish(
            effect, outcome_of(done), main_before=main_before, earlier=lost_attempts(done)
        )
        await self.handover.drop(job, done)
        return event


def outcome_of(done: TurnDone) -> TurnOutcome:
    """What the agent's process did on its worker, as a local run says it."""
    return TurnOutcome(
        ok=done.ok,
        session_id=done.session_id,
        usage=usage_of(done.usage),
        reply=done.reply,
        failure=done.failure,
        error=done.error,
        seconds=done.seconds,
        num_turns=0,  # not sent back: the core counts turns, not the CLI's rounds
        reset_at=done.reset_at,
        exit_code=done.exit_code,
        events_seen=0,
        usage_cumulative=done.usage_cumulative,
    )


def lost_attempts(done: TurnDone) -> Interrupted:
    """The attempts at the turn that workers lost before this one, to be counted. Each
    counts as a turn: a lost attempt's heartbeats do not say reliably whether its agent
    had its prompt (the last one recorded may predate it), and one that ran must count."""
    usage = Usage()
    for attempt in done.earlier:
        usage += usage_of(attempt.usage)
    return Interrupted(
        attempts=len(done.earlier),
        usage=usage,
        seconds=round(sum(a.seconds for a in done.earlier), 3),
    )


def _dict(value: object) -> dict[str, Any]:
    assert isinstance(value, dict)
    return value


def _read_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")
