"""`TemporalExecutor`: the controller's side of running agent turns on workers.

How this works. Every effect type has a route (`ROUTES`): agent turns go to workers, the
rest (forge calls, the worktree of record, rebases, merges) run here through the local
`Executors`. For a turn the controller publishes the task worktree's HEAD as the turn's
start commit on the workers' git remote, picks the activity queues whose workers have the
turn's agent (most free slots first), and starts the turn's workflow with the effect id in
its workflow id (`plait/<project>/<project uid>/<effect id>`). Starting it again — after
a restart of the controller, say — finds the running workflow (or its result) instead of
starting a second turn: Temporal holds the turn, not this process.

It then follows the workflow's history: each transcript batch a worker signalled becomes
transcript rows in the store (rows already there from before a restart are skipped, so
the count of stored rows is the offset), the attempt's start names the worker it runs
on, and the completion is the result. The result's commit is fetched from the remote,
the worktree of record moves to it, and the core hears `AgentFinished` as from a local
turn. A kill cancels the workflow (the worker stops the agent's process group when its
next heartbeat brings the cancellation) and answers "killed"; an engine that merely
stops leaves the turn running on its worker, to be picked up by `plait resume`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from plait.agents.prompts import read_overrides
from plait.core import codec
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Usage
from plait.engine.executor import WorkerInfo
from plait.engine.executors import Executors, Seen, describe_error, killed
from plait.errors import ExecutorError
from plait.plans.executor import ExecutorConfig
from plait.scaleout.connect import connect
from plait.scaleout.jobs import (
    TRANSCRIPT_SIGNAL,
    WORKFLOW,
    TranscriptBatch,
    TurnDone,
    TurnJob,
)
from plait.scaleout.registry import list_workers
from plait.scaleout.routing import candidate_queues
from plait.scaleout.turns import usage_of
from plait.workspaces.base import Workspaces
from plait.workspaces.git import git

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
}

CANCEL_WAIT = 120.0  # seconds a kill waits for the worker to confirm the agent stopped
_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "cancelled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed out",
}

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


@dataclass
class _Remote:
    """A turn under way on a worker, as this controller follows it."""

    task: str
    where: str = "waiting"
    queue: str = ""
    seen: Seen = field(default_factory=Seen)  # session and usage its transcript reported


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
        self._turns: dict[str, _Remote] = {}
        self._interrupted: set[str] = set()
        self._abandoned: set[str] = set()
        self._workers: tuple[float, Sequence[WorkerInfo]] = (0.0, ())

    # ---- the Executor protocol --------------------------------------------------------------
    @property
    def describe(self) -> str:
        return self.config.url

    async def run(self, effect: fx.Effect) -> ev.Event:
        if ROUTES.get(type(effect)) != WORKERS or not isinstance(effect, fx.RunAgent):
            return await self.local.run(effect)
        try:
            return await self._turn(effect)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # as locally: a turn that could not run is a crash
            log.warning("agent turn %s could not run on a worker: %s", effect.id, exc)
            error = describe_error(exc)
            return ev.AgentFinished(at=self.clock(), effect_id=effect.id, task=effect.task,
                                    ok=False, failure="crash", error=error)  # fmt: skip

    def interrupt(self, effect_id: str) -> bool:
        if effect_id not in self._turns:
            return self.local.interrupt(effect_id)
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
        """The queue's workers (asked of the server at most once a second)."""
        at, known = self._workers
        if time.monotonic() - at < 1.0:
            return known
        try:
            known = await list_workers(await self.client(), self.config.task_queue,
                                       now=time.time())  # fmt: skip
        except ExecutorError as exc:
            log.debug("cannot list workers: %s", exc)
            known = ()
        self._workers = (time.monotonic(), known)
        return known

    async def client(self) -> Client:
        async with self._connecting:
            if self._client is None:
                self._client = await connect(self.config)
            return self._client

    # ---- one turn ----------------------------------------------------------------------------
    async def _turn(self, effect: fx.RunAgent) -> ev.Event:
        # Known from the start, so that a kill or a drop while the turn is being handed
        # out is not missed (the engine asks `interrupt` before it cancels the run).
        remote = self._turns[effect.id] = _Remote(task=effect.task)
        handle: WorkflowHandle[Any, TurnDone] | None = None
        try:
            client = await self.client()
            job = await self._job(effect)
            remote.queue = job.queues[0]
            handle = await self._start(client, job)
            done = await self._follow(client, handle, effect, remote)
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
        return await self._finish(effect, job, done)

    async def _job(self, effect: fx.RunAgent) -> TurnJob:
        f = self.facts
        head = (await self.workspaces.work_state(worktree=effect.worktree)).head_sha
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
            idle_timeout=f.idle_timeout or 0.0,
            turn_timeout=f.turn_timeout,
            heartbeat_timeout=self.config.heartbeat_timeout,
        )
        await self._publish(job)
        return job

    async def _queues(self, agent: str) -> list[str]:
        mine: dict[str, int] = {}
        for turn in self._turns.values():
            mine[turn.queue] = mine.get(turn.queue, 0) + 1
        workers = await self.workers()
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
        remote: _Remote,
    ) -> TurnDone:
        """Read the workflow's history to its end: transcript, worker, result."""
        reader = _History(self, client, effect, remote)
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
        remote: _Remote,
    ) -> None:
        """Cancel the turn on its worker and wait (a while) until the agent is stopped."""
        with contextlib.suppress(Exception):
            await handle.cancel()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CANCEL_WAIT):
                await self._follow(client, handle, effect, remote)

    async def _finish(self, effect: fx.RunAgent, job: TurnJob, done: TurnDone) -> ev.Event:
        """Bring the turn's commit into the worktree of record; answer the core."""
        if done.pushed and done.head_sha:
            await self._take(job, done, effect.worktree)
        commit = await self.workspaces.finish_turn(
            worktree=effect.worktree, base_sha=effect.base_sha, task=effect.task,
            message=f"{effect.turn.title}\n\nChanges the agent left uncommitted.",
        )  # fmt: skip
        await self._unpublish(job, done)
        earlier = done.earlier
        lost_usage = Usage()
        for attempt in earlier:
            lost_usage += usage_of(attempt.usage)
        return ev.AgentFinished(
            at=self.clock(),
            effect_id=effect.id,
            task=effect.task,
            ok=done.ok,
            session_id=done.session_id,
            usage=usage_of(done.usage),
            seconds=done.seconds,
            reply=done.reply,
            error=done.error,
            failure=done.failure,
            commits_ahead=commit.commits_ahead,
            head_sha=commit.head_sha,
            reset_at=done.reset_at,
            usage_cumulative=done.usage_cumulative,
            interrupted_turns=len(earlier),
            interrupted_usage=lost_usage,
            interrupted_seconds=round(sum(a.seconds for a in earlier), 3),
        )

    # ---- git: the start commit out, the result in -------------------------------------------
    def _same_repo(self) -> bool:
        remote = self.facts.remote
        return os.path.isdir(remote) and os.path.samefile(remote, self.facts.repo)

    async def _publish(self, job: TurnJob) -> None:
        repo = self.facts.repo
        if self._same_repo():
            await git("update-ref", job.start_ref, job.start_sha, cwd=repo)
            return
        await git("push", "-q", "--force", "--no-verify", job.remote,
                  f"{job.start_sha}:{job.start_ref}", cwd=repo)  # fmt: skip

    async def _take(self, job: TurnJob, done: TurnDone, worktree: str) -> None:
        repo = self.facts.repo
        ref = job.done_ref(done.attempt)
        have = await git("cat-file", "-e", f"{done.head_sha}^{{commit}}", cwd=repo, check=False)
        if have.code != 0:  # taken before a restart, its ref may be gone: then it is here
            await git("fetch", "-q", "--no-tags", job.remote, f"+{ref}:{ref}", cwd=repo)
        # The worktree of record is plait's own (agents work on the workers): move it.
        await git("reset", "-q", "--hard", done.head_sha, cwd=worktree)

    async def _unpublish(self, job: TurnJob, done: TurnDone) -> None:
        """Drop the turn's refs, here and on the remote (best effort: they only hold
        commits that the task's branch holds now, or work nobody will take)."""
        refs = [job.start_ref, *(job.done_ref(n) for n in range(1, done.attempt + 1))]
        repo = self.facts.repo
        for ref in refs:
            await git("update-ref", "-d", ref, cwd=repo, check=False)
        if not self._same_repo():
            await git("push", "-q", "--no-verify", job.remote, *(f":{r}" for r in refs),
                      cwd=repo, check=False)  # fmt: skip


class _History:
    """One pass over a turn's workflow history, event by event."""

    def __init__(
        self, owner: TemporalExecutor, client: Client, effect: fx.RunAgent, remote: _Remote
    ) -> None:
        self.owner = owner
        self.client = client
        self.effect = effect
        self.remote = remote
        # Rows the store already holds for this turn (written before a restart): the
        # history's first entries, in the same order.
        self.stored = owner.transcript_count(effect.task, effect.id)
        self.seen = 0

    async def read(self, event: HistoryEvent) -> TurnDone | None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            await self._transcript(event)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            self.remote.where = "waiting"
            self.remote.queue = event.activity_task_scheduled_event_attributes.task_queue.name
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
            [done] = await self.client.data_converter.decode(payloads, [TurnDone])
            assert isinstance(done, TurnDone)
            return done
        elif kind in _CLOSED:
            why = f"the turn's workflow {_CLOSED[kind]}: {_why(event)}"
            return TurnDone(ok=False, worker=self.remote.where, attempt=0, failure="crash",
                            error=why)  # fmt: skip
        return None

    async def _transcript(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_signaled_event_attributes
        if attrs.signal_name != TRANSCRIPT_SIGNAL:
            return
        [batch] = await self.client.data_converter.decode(attrs.input.payloads, [TranscriptBatch])
        assert isinstance(batch, TranscriptBatch)
        self.remote.where = batch.worker or self.remote.where
        task, effect_id = self.effect.task, self.effect.id
        for at, kind, body in batch.entries:
            self.seen += 1
            _note(self.remote, str(kind), str(body))
            if self.seen > self.stored:
                self.owner.transcript(task, effect_id, float(at), str(kind), str(body))


def _note(remote: _Remote, kind: str, body: str) -> None:
    """Keep the session and usage a transcript entry reports (for kills and the faces)."""
    if kind not in ("SessionStarted", "UsageReport", "FinalResult"):
        return
    try:
        data = json.loads(body)
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    seen = remote.seen
    if data.get("session_id"):
        seen.session_id = str(data["session_id"])
    if kind == "UsageReport" and isinstance(data.get("usage"), dict):
        usage = usage_of(data["usage"])
        if data.get("cumulative"):
            seen.usage, seen.cumulative = usage, True
        elif not seen.cumulative:
            seen.usage = seen.usage + usage


def _why(event: HistoryEvent) -> str:
    if event.HasField("workflow_execution_failed_event_attributes"):
        return event.workflow_execution_failed_event_attributes.failure.message
    if event.HasField("workflow_execution_terminated_event_attributes"):
        return event.workflow_execution_terminated_event_attributes.reason
    return "no reason given"


def _dict(value: object) -> dict[str, Any]:
    assert isinstance(value, dict)
    return value


def _read_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")
