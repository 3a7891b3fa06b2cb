"""Run one agent turn as a subprocess and sum up what it did.

How this works: the backend gives the argv, environment and decoder; the process starts in
its own session (so its process group holds everything it spawns) with stdin closed.
stdout is read in chunks into the decoder (each event goes to `on_event` as it arrives);
only the last `STDERR_TAIL` bytes of stderr are kept, for error messages. The turn ends
when the process exits, when stdout stays silent for `idle_timeout` ("stalled"), when
`turn_timeout` passes ("timeout"), or when the caller cancels. In every case the whole
process group is then stopped (SIGTERM, SIGKILL after a grace period) so nothing the agent
started outlives its turn, and the pipes are drained before returning.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from plait import processes
from plait.agents.base import AgentBackend, StreamDecoder, TurnSpec
from plait.agents.events import (
    AgentErrorEvent,
    AgentEvent,
    FinalResult,
    SessionStarted,
    TextOut,
    UsageReport,
)
from plait.agents.failures import classify_failure
from plait.core.model import Usage

CHUNK = 64 * 1024
STDERR_TAIL = 16 * 1024
KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL
DRAIN_GRACE = 5.0  # seconds to wait for the pipes to close once the group is dead

EventSink = Callable[[AgentEvent], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnOutcome:
    ok: bool
    session_id: str
    usage: Usage
    reply: str  # the agent's final text
    failure: str  # a FAILURE_CLASSES entry when not ok, else ""
    error: str  # what went wrong, for a person
    seconds: float
    num_turns: int
    reset_at: float | None
    exit_code: int | None  # None when the process never started
    events_seen: int
    # True when `usage` is the session's running total (codex), not this turn's own.
    usage_cumulative: bool = False


class _Tally:
    """What the events of one turn said, as they arrive."""

    def __init__(self, on_event: EventSink | None) -> None:
        self.on_event = on_event
        self.events = 0
        self.session = ""
        self.last_text = ""
        self.summed = Usage()
        self.cumulative: Usage | None = None
        self.final: FinalResult | None = None
        self.error: AgentErrorEvent | None = None

    def add(self, event: AgentEvent) -> None:
        self.events += 1
        if isinstance(event, SessionStarted):
            self.session = event.session_id
        elif isinstance(event, TextOut):
            self.last_text = event.text
        elif isinstance(event, UsageReport):
            if event.cumulative:
                self.cumulative = event.usage
            else:
                self.summed += event.usage
        elif isinstance(event, FinalResult):
            self.final = event
        elif isinstance(event, AgentErrorEvent):
            self.error = event
        if self.on_event is not None:
            self.on_event(event)

    @property
    def usage_cumulative(self) -> bool:
        has_final = self.final is not None and self.final.usage is not None
        return not has_final and self.cumulative is not None

    @property
    def usage(self) -> Usage:
        if self.final is not None and self.final.usage is not None:
            return self.final.usage
        return self.cumulative if self.cumulative is not None else self.summed


class _Clock:
    """When stdout last spoke (event-loop time)."""

    def __init__(self) -> None:
        self.last = asyncio.get_running_loop().time()

    def touch(self) -> None:
        self.last = asyncio.get_running_loop().time()


async def run_turn(
    backend: AgentBackend,
    spec: TurnSpec,
    *,
    on_event: EventSink | None = None,
    idle_timeout: float | None = None,
    turn_timeout: float | None = None,
    base_env: Mapping[str, str] | None = None,
    kill_grace: float = KILL_GRACE,
    on_spawn: Callable[[int], None] | None = None,
) -> TurnOutcome:
    """Run one turn of `backend` in `spec.workdir`; never leaves a process behind.

    `on_spawn(pid)` is told the agent's pid (= its process group) as soon as it runs, so
    the engine can record it and, after a crash of its own, reap the orphaned group.
    """
    started = time.monotonic()
    tally = _Tally(on_event)
    try:
        proc = await asyncio.create_subprocess_exec(
            *backend.argv(spec),
            cwd=spec.workdir,
            env=backend.env(os.environ if base_env is None else base_env, spec),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        error = _start_error(backend, spec, exc)
        return _outcome(tally, spec, "crash", error, started, exit_code=None)
    assert proc.stdout is not None
    assert proc.stderr is not None
    if on_spawn is not None:
        on_spawn(proc.pid)
    clock, tail = _Clock(), bytearray()
    pump = asyncio.create_task(_pump(proc.stdout, backend.decoder(), tally, clock))
    errs = asyncio.create_task(_keep_tail(proc.stderr, tail))
    try:
        forced = await _supervise(proc, pump, clock, idle_timeout, turn_timeout)
    finally:  # normal exit, stall, timeout, cancellation or a failing on_event alike
        await _stop(proc, pump, errs, kill_grace, spec.workdir)
    if forced == "stalled":
        error = f"no output for {idle_timeout:g}s; the agent was stopped"
        return _outcome(tally, spec, forced, error, started, exit_code=proc.returncode)
    if forced == "timeout":
        error = f"the turn took longer than {turn_timeout:g}s; the agent was stopped"
        return _outcome(tally, spec, forced, error, started, exit_code=proc.returncode)
    return _judge(tally, spec, started, proc.returncode, tail.decode("utf-8", errors="replace"))


async def _pump(
    stream: asyncio.StreamReader, decoder: StreamDecoder, tally: _Tally, clock: _Clock
) -> None:
    while chunk := await stream.read(CHUNK):
        clock.touch()
        for event in decoder.feed(chunk):
            tally.add(event)
    for event in decoder.close():
        tally.add(event)


async def _keep_tail(stream: asyncio.StreamReader, tail: bytearray) -> None:
    while chunk := await stream.read(CHUNK):
        tail += chunk
        del tail[:-STDERR_TAIL]


async def _idle(clock: _Clock, idle: float) -> None:
    loop = asyncio.get_running_loop()
    while (left := clock.last + idle - loop.time()) > 0:
        await asyncio.sleep(left)


async def _supervise(
    proc: asyncio.subprocess.Process,
    pump: asyncio.Task[None],
    clock: _Clock,
    idle: float | None,
    limit: float | None,
) -> str:
    """Wait for the turn to end: "" when the process exited, else why we must stop it."""
    exited = asyncio.ensure_future(proc.wait())
    watchdog = asyncio.ensure_future(_idle(clock, idle)) if idle is not None else None
    waiting: set[asyncio.Future[Any]] = {exited, pump}
    if watchdog is not None:
        waiting.add(watchdog)
    try:
        async with asyncio.timeout(limit):
            while True:
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if pump in done:
                    pump.result()  # re-raise what a failing on_event raised
                    waiting.discard(pump)
                if exited in done:
                    return ""
                if watchdog is not None and watchdog in done:
                    return "stalled"
    except TimeoutError:
        return "timeout"
    finally:
        exited.cancel()
        if watchdog is not None:
            watchdog.cancel()


async def _stop(
    proc: asyncio.subprocess.Process,
    pump: asyncio.Task[None],
    errs: asyncio.Task[None],
    grace: float,
    workdir: str,
) -> None:
    """Stop the whole process group and what escaped it into the workdir (`setsid`), reap
    the leader and let the readers reach EOF."""
    await _kill_group(proc, grace)
    await proc.wait()
    await asyncio.to_thread(processes.stop_under, workdir)
    # Every writer of the pipes is dead now, unless something escaped into its own
    # session: do not wait for that one forever.
    _, pending = await asyncio.wait({pump, errs}, timeout=DRAIN_GRACE)
    for task in pending:
        task.cancel()
    await asyncio.gather(pump, errs, return_exceptions=True)


async def _kill_group(proc: asyncio.subprocess.Process, grace: float) -> None:
    pgid = proc.pid  # start_new_session: the leader's pid names the group
    if not _signal_group(pgid, signal.SIGTERM):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    try:
        while loop.time() < deadline:
            if proc.returncode is not None and not processes.group_alive(pgid):
                return
            await asyncio.sleep(0.02)
    finally:  # also when cancelled again while waiting
        if processes.group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal the group; False when it is gone (or, after pid reuse, not ours)."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _judge(
    tally: _Tally, spec: TurnSpec, started: float, exit_code: int | None, stderr: str
) -> TurnOutcome:
    final = tally.final
    if final is not None:
        if final.ok:
            return _outcome(tally, spec, "", "", started, exit_code=exit_code)
        error = final.error or final.text or _last_lines(stderr) or "the agent reported failure"
        return _outcome(tally, spec, final.failure or "failed", error, started, exit_code)
    said = tally.error
    why = _last_lines(stderr)
    if said is not None and said.failure:
        return _outcome(tally, spec, said.failure, said.message, started, exit_code=exit_code)
    if exit_code != 0 and spec.session_id and classify_failure(why)[0] == "session":
        # pi and gemini say on stderr that the session to resume is gone (it was never
        # saved: the turn that began it was stopped or failed first). Only "session" is
        # read from stderr: the scheduler must start afresh, not resume it again.
        return _outcome(tally, spec, "session", why, started, exit_code=exit_code)
    if exit_code == 0:
        error = "the agent exited without a result" + (f": {why}" if why else "")
        return _outcome(tally, spec, "failed", error, started, exit_code=exit_code)
    error = f"the agent exited with code {exit_code} without a result" + (f": {why}" if why else "")
    return _outcome(tally, spec, "crash", error, started, exit_code=exit_code)


def _outcome(
    tally: _Tally,
    spec: TurnSpec,
    failure: str,
    error: str,
    started: float,
    exit_code: int | None,
) -> TurnOutcome:
    final = tally.final
    ok = failure == "" and final is not None and final.ok
    reset = final.reset_at if final is not None else None
    if reset is None and tally.error is not None:
        reset = tally.error.reset_at
    return TurnOutcome(
        ok=ok,
        session_id=(final.session_id if final else "") or tally.session or spec.session_id,
        usage=tally.usage,
        reply=(final.text if final else "") or tally.last_text,
        failure="" if ok else failure or "failed",
        error="" if ok else error,
        seconds=time.monotonic() - started,
        num_turns=final.num_turns if final else 0,
        reset_at=None if ok else reset,
        exit_code=exit_code,
        events_seen=tally.events,
        usage_cumulative=tally.usage_cumulative,
    )


def _last_lines(text: str, limit: int = 800) -> str:
    return text.strip()[-limit:]


def _start_error(backend: AgentBackend, spec: TurnSpec, exc: OSError) -> str:
    if not os.path.isdir(spec.workdir):
        return f"cannot start agent {backend.name!r}: workdir {spec.workdir} does not exist"
    program = backend.argv(spec)[0]
    return (
        f"cannot start agent {backend.name!r} ({program}): {exc.strerror or exc} — "
        "install it or configure the agent's executable (`plait doctor` checks)"
    )
