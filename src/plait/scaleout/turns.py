"""The activity a worker runs for one agent turn: workspace, agent, commit, push.

How this works. The turn runs with the same pieces as a local one: the backend from the
registry, `agents.runner.run_turn` (own process group, idle and turn timeouts, the group
killed on any exit), the prompt from the same templates (overrides sent along). Around
it, three streams go back: heartbeats every few seconds carrying what the attempt has
seen so far (session, usage, transcript entries sent) — Temporal delivers a cancellation
(`plait kill`) in a heartbeat's answer, and a lost worker is one whose heartbeats stop;
transcript entries, batched about twice a second as signals to the turn's workflow; and
the result, once the work is committed and pushed and the last transcript batch has
arrived (so whoever reads the result has the whole transcript).

Attempts. A turn whose earlier attempt was lost continues it when this worker ran that
attempt (its worktree and the agent's session files are still here): the session goes on
with a "continue" turn told what the attempt left. On another worker the attempt's work
is gone, so the turn starts over, told so. Either way the earlier attempts' usage and time
are reported, to be counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from plait import processes
from plait.agents.base import AgentBackend, TurnSpec
from plait.agents.events import AgentEvent
from plait.agents.prompts import render_prompt
from plait.agents.registry import get_backend
from plait.agents.runner import TurnOutcome, run_turn
from plait.core import codec
from plait.core import effects as fx
from plait.core.model import Usage
from plait.engine.executors import Seen, describe_error, render_event
from plait.engine.interrupted import PROMPT, left_behind, prompt_row
from plait.engine.settings import with_secrets
from plait.scaleout.jobs import (
    ACTIVITY,
    TRANSCRIPT_SIGNAL,
    WORKER_STOPPED,
    Attempt,
    TranscriptBatch,
    TurnDone,
    TurnJob,
)
from plait.scaleout.workspace import Checkout, WorkerWorkspace
from plait.workspaces.containers import Container, Containerized, find_engine

log = logging.getLogger(__name__)

FLUSH_EVERY = 0.5  # seconds between transcript batches
BATCH_BYTES = 256 * 1024  # a batch this big goes at once (Temporal caps a payload at 2 MB)
ENTRY_BYTES = 64 * 1024  # longer entries are cut (a tool's whole output, say)


class TurnRunner:
    """The worker's agent turns; `agent_turn` is the Temporal activity."""

    def __init__(
        self,
        *,
        name: str,
        root: Path,
        client: Client,
        agents: tuple[str, ...],
        remote: str | None = None,
        env: Mapping[str, str] | None = None,
        processes: ProcessNotes | None = None,
    ) -> None:
        self.name = name
        self.root = root
        self.client = client
        self.agents = agents
        self.remote = remote
        self.env = env
        self.workspace = WorkerWorkspace(root)
        self.processes = processes
        self.busy: dict[str, str] = {}  # effect id → task, for this worker's own view
        self._backends: dict[str, AgentBackend] = {}

    @activity.defn(name=ACTIVITY)
    async def agent_turn(self, job: TurnJob, earlier: list[Attempt]) -> TurnDone:
        if self.remote:
            job = dataclasses.replace(job, remote=self.remote)
        info = activity.info()
        attempt = Attempt(worker=self.name, number=len(earlier) + 1)
        assert info.workflow_id is not None  # a turn is always a workflow's activity
        handle = self.client.get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id)
        stream = _Transcript(handle, attempt)
        beats = asyncio.create_task(_beat(attempt, job.heartbeat_timeout))
        self.busy[job.effect_id] = job.task
        try:
            return await self._turn(job, earlier, attempt, stream)
        except asyncio.CancelledError:
            if activity.is_worker_shutdown():
                # Not the turn's end: the workflow runs it again on another worker.
                raise ApplicationError(
                    f"worker {self.name} stopped during the turn",
                    dataclasses.asdict(attempt),
                    type=WORKER_STOPPED,
                    non_retryable=True,
                ) from None
            raise
        except Exception as exc:  # a turn always answers, like a local one
            log.debug("turn %s failed", job.effect_id, exc_info=True)
            return TurnDone(ok=False, worker=self.name, attempt=attempt.number,
                            failure="crash", error=describe_error(exc),
                            session_id=attempt.session_id, earlier=earlier)  # fmt: skip
        finally:
            self.busy.pop(job.effect_id, None)
            beats.cancel()
            await asyncio.shield(stream.close())

    async def _turn(
        self, job: TurnJob, earlier: list[Attempt], attempt: Attempt, stream: _Transcript
    ) -> TurnDone:
        if job.agent not in self.agents:
            raise RuntimeError(f"worker {self.name} has no {job.agent} agent")
        backend = self._backend(job)
        mine = bool(earlier) and earlier[-1].worker == self.name
        checkout = await self.workspace.checkout(job, keep=mine)
        turn, session = await _resumed(job, earlier, checkout, mine=mine)
        extra = job.extra if turn.kind == "start" else ""  # memory: for a start only
        prompt = render_prompt(turn, templates=job.templates, extra=extra)
        attempt.head = (await checkout.shelf.work_state(worktree=checkout.path)).head_sha
        stream.add(PROMPT, prompt_row(prompt, head_sha=attempt.head, session_id=session))
        spec = TurnSpec(prompt=prompt, workdir=checkout.path, session_id=session,
                        model=job.model, task_id=job.task, project=job.project,
                        kind=turn.kind, onto=turn.onto,
                        allowed_tools=tuple(job.allowed_tools))  # fmt: skip
        env = {**(self.env or os.environ), **job.env}
        if job.container_image:
            backend = _boxed(backend, job, checkout, spec, env)
        seen = Seen()

        def on_event(event: AgentEvent) -> None:
            seen.add(event)
            attempt.session_id = seen.session_id
            attempt.usage, attempt.cumulative = _json(codec.encode(seen.usage)), seen.cumulative
            if seen.keep(event):  # noise is capped as on the controller
                stream.add(type(event).__name__, render_event(event))

        notes = self.processes
        try:
            outcome = await run_turn(
                backend, spec, on_event=on_event, idle_timeout=job.idle_timeout or None,
                turn_timeout=job.turn_timeout, base_env=env,
                on_spawn=(lambda pid: notes.remember(job.effect_id, pid)) if notes else None,
            )  # fmt: skip
        finally:  # the runner stopped the agent's group whatever happened
            if notes is not None:
                notes.forget(job.effect_id)
        if dropped := seen.dropped():
            stream.add("Warning", dropped)
        commit = await checkout.shelf.finish_turn(
            worktree=checkout.path, base_sha=job.base_sha, task=job.task,
            message=f"{turn.title}\n\nChanges the agent left uncommitted.",
        )  # fmt: skip
        await self.workspace.publish(job, checkout.path, attempt.number)
        return _done(self.name, attempt, outcome, commit.head_sha, earlier)

    def _backend(self, job: TurnJob) -> AgentBackend:
        """The turn's backend with the options the controller sent; a custom provider's
        files go in this worker's folder, per project (as `<project>/agents/` locally)."""
        key = json.dumps([job.folder, job.agent, job.options, job.script], sort_keys=True)
        backend = self._backends.get(key)
        if backend is None:
            home = self.root / "agents" / job.folder / job.agent
            # A secret option (`env:VAR`) names a variable of this worker's environment.
            options = with_secrets(dict(job.options), self.env or os.environ)
            backend = get_backend(job.agent, options, script=self._script(job), home=str(home))
            backend.prepare_home()
            self._backends[key] = backend
        return backend

    def _script(self, job: TurnJob) -> str | None:
        """The script backend's script as a file here (it travels as text)."""
        if job.agent != "script" or not job.script:
            return None
        key = hashlib.sha256(job.script.encode()).hexdigest()[:16]
        path = self.root / "scripts" / f"{key}.json"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(job.script, encoding="utf-8")
            os.replace(tmp, path)
        return str(path)


async def _resumed(
    job: TurnJob, earlier: list[Attempt], checkout: Checkout, *, mine: bool
) -> tuple[fx.Turn, str]:
    """The turn to run after `earlier` attempts were lost, and the session to run it in."""
    turn = codec.decode_typed(fx.Turn, job.turn)
    if not earlier:
        return turn, job.session_id
    last = earlier[-1]
    if mine and last.session_id:
        state = await checkout.shelf.work_state(worktree=checkout.path, since=earlier[0].head)
        left = left_behind(state)
        note = f"An earlier attempt at this turn was cut off.\n{left}".strip()
        return dataclasses.replace(turn, kind="continue", summary=note), last.session_id
    lost = (
        f"An earlier attempt at this turn was cut off when the machine running it (worker "
        f"{last.worker or '?'}) was lost; what it did is gone. Do the turn from the start."
    )
    return dataclasses.replace(turn, summary=f"{turn.summary.strip()}\n\n{lost}".strip()), (
        job.session_id
    )


def _boxed(
    backend: AgentBackend,
    job: TurnJob,
    checkout: Checkout,
    spec: TurnSpec,
    env: Mapping[str, str],
) -> AgentBackend:
    """The backend run inside the project's container image, as on the controller; the
    worktree's folder and its mirror (which its .git names) are mounted."""
    box = Container(
        engine=find_engine(job.container_engine),
        image=job.container_image,
        mounts=(str(Path(checkout.path).parent), checkout.shelf.repo),
    )
    return Containerized(backend, box, tuple(backend.env(env, spec)))


def _done(
    worker: str, attempt: Attempt, outcome: TurnOutcome, head: str, earlier: list[Attempt]
) -> TurnDone:
    return TurnDone(
        ok=outcome.ok,
        worker=worker,
        attempt=attempt.number,
        failure=outcome.failure,
        error=outcome.error,
        reply=outcome.reply,
        session_id=outcome.session_id,
        usage=_json(codec.encode(outcome.usage)),
        usage_cumulative=outcome.usage_cumulative,
        seconds=round(outcome.seconds, 3),
        reset_at=outcome.reset_at,
        exit_code=outcome.exit_code,
        head_sha=head,
        pushed=True,
        earlier=earlier,
    )


def _json(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def usage_of(data: Mapping[str, Any]) -> Usage:
    try:
        return codec.decode_typed(Usage, dict(data))
    except (codec.CodecError, TypeError, ValueError):
        return Usage()


async def _beat(attempt: Attempt, timeout: float) -> None:
    """Heartbeat with what the attempt has seen; the SDK sends at most one per 0.8 × the
    heartbeat timeout to the server, and answers a cancellation through it."""
    every = max(0.2, min(timeout / 4, 5.0))
    started = time.monotonic()
    while True:
        attempt.seconds = round(time.monotonic() - started, 3)
        activity.heartbeat(dataclasses.asdict(attempt))
        await asyncio.sleep(every)


class _Transcript:
    """Transcript entries, signalled to the turn's workflow in batches. Every entry is sent
    before the turn's result is reported (`close`), so a reader of the workflow's history
    has the whole transcript when it reads the result."""

    def __init__(self, handle: Any, attempt: Attempt) -> None:
        self.handle = handle
        self.attempt = attempt
        self.pending: list[list[Any]] = []
        self.size = 0
        self.wake = asyncio.Event()
        self.closing = False
        self.task = asyncio.create_task(self._run())

    def add(self, kind: str, body: str) -> None:
        if len(body) > ENTRY_BYTES:
            body = body[:ENTRY_BYTES] + "…"
        self.pending.append([time.time(), kind, body])
        self.size += len(body)
        if self.size >= BATCH_BYTES:
            self.wake.set()

    async def _run(self) -> None:
        while not self.closing:
            try:
                async with asyncio.timeout(FLUSH_EVERY):
                    await self.wake.wait()
            except TimeoutError:
                pass
            self.wake.clear()
            await self.flush()
        await self.flush()  # what came while the last batch was on its way

    async def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending, self.size = self.pending, [], 0
        try:
            batch_of = TranscriptBatch(self.attempt.number, batch, worker=self.attempt.worker)
            await self.handle.signal(TRANSCRIPT_SIGNAL, batch_of)
        except Exception as exc:  # the transcript is for people; the turn goes on
            log.warning("could not send %d transcript entries: %s", len(batch), exc)
            return
        self.attempt.sent += len(batch)

    async def close(self) -> None:
        """Send what is left, in order, before the result goes. A batch on its way is let
        arrive: it was cancelled, and its entries were lost or came after the result."""
        self.closing = True
        self.wake.set()
        try:
            async with asyncio.timeout(10):
                await self.task
        except TimeoutError:
            log.warning("the last transcript entries of a turn were not sent")


class ProcessNotes:
    """Agent process groups running on this worker, written down so that the next start
    of a worker killed with SIGKILL stops what it left (see `engine.reaper`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, effect_id: str) -> Path:
        return self.folder / hashlib.sha256(effect_id.encode()).hexdigest()[:24]

    def remember(self, effect_id: str, pid: int) -> None:
        self._path(effect_id).write_text(f"{pid} {processes.started(pid)}")

    def forget(self, effect_id: str) -> None:
        self._path(effect_id).unlink(missing_ok=True)

    def recorded(self) -> list[tuple[int, str]]:
        out = []
        for path in self.folder.iterdir():
            pid, _, started = path.read_text().partition(" ")
            if pid.isdecimal():
                out.append((int(pid), started))
            path.unlink(missing_ok=True)
        return out
