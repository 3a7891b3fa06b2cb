"""Swarm workers in the core: numbered slots of worker groups that claim queue tasks.

How this works. A worker group (`RunConfig.workers`) is a cap and an assignment, not a
process: `count` workers named `<group>/<n>`, each holding at most one claim, whose turns
run on the group's backend, model, effort and prompt files. The scheduler claims a waiting
task of the group's queue (`TaskSpec.queue`) for a free worker when it starts the task; the
claim is part of the decision the store commits with the effects it causes, so two workers
never hold one task and a claim outlives a crash (the engine that restarts serves it on).

Why slots and not long-lived worker processes: the core already runs one operation per task
at a time, durably, within caps per backend, and resumes an interrupted turn's session after
a crash. A worker loop beside it would repeat that and hold its claims in memory, where a
kill -9 loses them.

A claim ends when its task lands, is skipped, goes back to the queue (rejected by the
reviewer too often, stuck, failing, or stopped by a shutdown) or stops for a person (its
worker or reviewer broke one of plait's rules: `stop_for_person`); each end appends one
immutable cycle entry to the task's run log and frees the worker, which rests `wait`
seconds before its next claim and stops claiming after `max_cycles`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from plait.core import events as ev
from plait.core.model import (
    AGENT_OPS,
    Counters,
    LogEntry,
    Op,
    OpKind,
    Phase,
    RunState,
    TaskState,
    WorkerGroup,
    WorkerState,
)
from plait.core.progress import stuck_tasks
from plait.core.task import agent_of, attention_reason, fresh, group_of, model_of
from plait.core.taskmap import put

if TYPE_CHECKING:  # mypy checks each field's type through its dataclasses plugin
    from dataclasses import replace
else:  # the same copy, about twice as fast (P2)
    from plait.core.copying import replace

PLANNING = "planning"  # the queue of planner tasks (see plait.sources.planners)
DEFAULT_RESUMES = 5  # turns without completion before the wrap-up nudge, without a group


def worker_names(group: WorkerGroup) -> Iterator[str]:
    return (f"{group.name}/{n}" for n in range(1, group.count + 1))


def serves(config_workers: tuple[WorkerGroup, ...], queue: str) -> bool:
    """Does some worker group claim tasks of `queue`? (If none does, the scheduler starts
    them with the project's agents, like any task.)"""
    return bool(queue) and any(g.queue == queue for g in config_workers)


def free_worker(
    state: RunState,
    workers: Mapping[str, WorkerState],
    queue: str,
    usable: Callable[[str], bool],
) -> str | None:
    """The first worker of a group serving `queue` that may claim now: free, rested,
    cycles left, and its backend has room (`usable`)."""
    cfg = state.config
    for group in cfg.workers:
        if group.queue != queue or not usable(group.agent or cfg.agent):
            continue
        for name in worker_names(group):
            w = workers.get(name, WorkerState())
            if w.task or w.idle_until > state.now:
                continue
            if group.max_cycles and w.cycles >= group.max_cycles:
                continue
            return name
    return None


def claim(state: RunState, t: TaskState, worker: str, workers: dict[str, WorkerState]) -> TaskState:
    """`worker` takes `t` (noted in `workers`, the scheduler's working copy)."""
    w = workers.get(worker, WorkerState())
    workers[worker] = replace(w, task=t.id, cycles=w.cycles + 1)
    return replace(t, worker=worker, claimed_at=state.now, claim_usage=t.usage, resumes=0)


def pick_riders(
    state: RunState,
    tasks: Mapping[str, TaskState],
    lead: str,
    group: WorkerGroup,
    candidates: Iterable[str],
    ready: Callable[[str], bool],
) -> tuple[str, ...]:
    """Waiting tasks the worker that claims `lead` takes along in the same cycle (up to
    `claim - 1`): of the same queue, sharing a file with it, ready, and neither depending on
    the other. Their work is done in `lead`'s change and lands (or goes back) with it."""
    spec = state.specs[lead]
    files = set(spec.files)
    if group.claim <= 1 or not files:
        return ()
    out: list[str] = []
    for tid in candidates:
        if len(out) >= group.claim - 1:
            break
        other, t = state.specs[tid], tasks[tid]
        if tid == lead or other.queue != spec.queue or not files.intersection(other.files):
            continue
        if t.phase is not Phase.WAITING or t.carried_by or t.current is not None or t.stopped:
            continue
        if lead in other.depends_on or tid in spec.depends_on or t.retry_at > state.now:
            continue
        if not attention_reason(t, state.config) and ready(tid):
            out.append(tid)
    return tuple(out)


def max_resumes(state: RunState, t: TaskState) -> int:
    group = group_of(state.config, t.worker)
    return group.max_resumes if group is not None else DEFAULT_RESUMES


def may_propose(state: RunState, t: TaskState) -> bool:
    group = group_of(state.config, t.worker)
    return group is not None and (group.may_plan or group.queue == PLANNING)


# ---- the end of a claim -------------------------------------------------------------------
def end_cycle(
    state: RunState, task_id: str, outcome: str, *, reason: str = "", returned: bool = False
) -> RunState:
    """The claim on `task_id` ends: one cycle entry in its run log; the worker rests."""
    t = state.tasks[task_id]
    if not t.worker:
        return state
    riders = tuple(r for r in t.riders if state.tasks[r].carried_by == task_id)
    worker = state.swarm.workers.get(t.worker, WorkerState())
    entry = LogEntry(
        kind="cycle",
        at=state.now,
        worker=t.worker,
        cycle=worker.cycles,
        outcome=outcome,
        started_at=t.claimed_at,
        agent=agent_of(state, task_id),
        model=model_of(state, task_id),
        session_id=t.session_id,
        usage=t.usage.since(t.claim_usage),
        seconds=round(max(0.0, state.now - t.claimed_at), 3),
        round=t.review_rounds,
        reason=reason,
        claimed=(task_id, *riders),
        returned=(task_id, *riders) if returned else (),
        merge_sha=t.merge_sha,
    )
    group = group_of(state.config, t.worker)
    rest = state.now + group.wait if group is not None and group.wait else 0.0
    state = _set_worker(state, t.worker, replace(worker, task="", idle_until=rest))
    state = put(state, replace(t, worker="", riders=(), log=(*t.log, entry)))
    for rid in riders:
        state = put(state, _rider_after(state, state.tasks[rid], t, outcome, reason))
    return state


def _rider_after(
    state: RunState, rider: TaskState, lead: TaskState, outcome: str, reason: str
) -> TaskState:
    """A rider lands with its carrier, is skipped with it, or goes back to waiting."""
    if outcome == "merged":
        return replace(rider, phase=Phase.MERGED, merge_sha=lead.merge_sha, finished_at=state.now)
    if outcome in ("skipped", "planned"):
        why = f"carried by {lead.id}: {reason}" if reason else f"carried by {lead.id}"
        return replace(rider, phase=Phase.MERGED, skipped=why, finished_at=state.now)
    return replace(rider, carried_by="")


def stop_for_person(state: RunState, task_id: str, reason: str) -> RunState:
    """A claimed task whose worker or reviewer broke one of plait's rules (`forbidden`:
    it moved main, which the shell put back, or pushed) ends its claim as an error and
    stays, with its work and its `failed` reason, for a person — as any task and any
    mission does. Giving it back to the queue would only hand the same ticket to the next
    worker; `plait retry` clears it and the task goes on once a worker of its group takes
    it again (scheduler._claimed)."""
    if not state.tasks[task_id].worker:
        return state
    return end_cycle(state, task_id, "error", reason=reason)


def release(state: RunState, task_id: str, outcome: str, reason: str, notes: str = "") -> RunState:
    """Give the task back to the queue: its claim ends, its work is dropped (or kept, with
    `keep_worktrees`, for the next worker to carry on) and it waits to be claimed again.
    A task given back `failure_cap` times stays instead, with its work, for a human."""
    returns = state.tasks[task_id].counters.returns + 1
    if returns >= state.config.failure_cap:
        state = end_cycle(state, task_id, outcome, reason=reason)
        t = state.tasks[task_id]
        counters = replace(t.counters, returns=returns)
        return put(state, replace(t, counters=counters, notes=notes or t.notes, last_error=reason))
    state = end_cycle(state, task_id, outcome, reason=reason, returned=True)
    t = state.tasks[task_id]
    # The work is dropped, and with it what was judged of it: the task needs no human.
    t = replace(
        t,
        counters=Counters(returns=returns),
        notes=notes or t.notes,
        verdict="",
        verdict_head="",
        review_rounds=0,
        reviewer_tries=0,
        resumes=0,
    )
    if state.config.keep_worktrees or not (t.branch or t.worktree):
        back = fresh(t)
        if state.config.keep_worktrees:
            back = replace(back, branch=t.branch, worktree=t.worktree)
        return put(state, replace(back, last_error=reason))
    # Whatever was under way is abandoned (the engine stops a running turn and runs this
    # task's effects one after another, so the discard never races it).
    discard = Op(kind=OpKind.DISCARD)
    t = replace(
        t,
        in_flight="",
        current=discard,
        step="discard",
        queue=(),
        stopped="",
        retry_at=0.0,
        nudged=False,
        interrupted=False,
        last_error=reason,
    )
    return put(state, t)


def _set_worker(state: RunState, name: str, worker: WorkerState) -> RunState:
    workers = {**state.swarm.workers, name: worker}
    return replace(state, swarm=replace(state.swarm, workers=workers))


# ---- after every event ----------------------------------------------------------------------
def settle(state: RunState) -> RunState:
    """Claims that cannot go on end: a claimed task that needs a human goes back to the
    queue (it stays, needing attention, once it has gone back too often); while the swarm
    drains, a claim whose next step is another worker turn goes back; a worker whose task
    was taken away (a hard reset) is freed."""
    for name, worker in list(state.swarm.workers.items()):
        if not worker.task:
            continue
        t = state.tasks.get(worker.task)
        if t is None or t.worker != name:
            state = _set_worker(state, name, replace(worker, task=""))
            continue
        if t.in_flight or t.phase is Phase.MERGED or t.stopped:
            continue
        why = attention_reason(t, state.config)
        if why:
            state = release(state, t.id, "error", why)
        elif state.swarm.draining and _next_is_worker_turn(t):
            state = release(state, t.id, "interrupted", "the swarm is stopping")
    return state


def _next_is_worker_turn(t: TaskState) -> bool:
    if t.current is not None:
        return t.current.kind in AGENT_OPS and t.step in ("workspace", "agent")
    return t.phase is Phase.WAITING or any(op.kind in AGENT_OPS for op in t.queue)


def on_started(state: RunState, event: ev.SwarmStarted) -> RunState:
    was_draining = state.swarm.draining
    state = replace(state, swarm=replace(state.swarm, draining=False))
    for name, worker in state.swarm.workers.items():
        t = state.tasks.get(worker.task) if worker.task else None
        if t is None or t.worker != name or t.phase is Phase.MERGED:
            continue
        if not _exists(state, name):
            state = release(state, t.id, "returned", "its worker is no longer configured")
        elif was_draining and t.verdict != "approved":
            reason = "the swarm stopped before this claim finished"
            state = release(state, t.id, "interrupted", reason)
    return state


def _exists(state: RunState, worker: str) -> bool:
    group = group_of(state.config, worker)
    number = worker.rpartition("/")[2]
    return group is not None and number.isdecimal() and 1 <= int(number) <= group.count


def on_stopping(state: RunState, event: ev.SwarmStopping) -> RunState:
    return replace(state, swarm=replace(state.swarm, draining=True))


# ---- derived facts ------------------------------------------------------------------------------
def claims(state: RunState) -> dict[str, str]:
    """Worker → the task it holds."""
    return {name: w.task for name, w in state.swarm.workers.items() if w.task}


def can_claim(state: RunState, queue: str) -> bool:
    """Could some worker still claim a task of `queue` (now or after resting)?"""
    for group in state.config.workers:
        if group.queue != queue:
            continue
        for name in worker_names(group):
            w = state.swarm.workers.get(name, WorkerState())
            if not group.max_cycles or w.cycles < group.max_cycles:
                return True
    return False


def swarm_done(state: RunState) -> bool:
    """Nothing more happens without new tasks: no claim held, nothing under way, and every
    task landed, stuck, or waiting in a queue no worker can claim from any more (or, while
    draining, waiting at all)."""
    if claims(state):
        return False
    stuck = stuck_tasks(state)
    for tid in state.order:
        t = state.tasks[tid]
        if t.in_flight:
            return False
        if t.phase is Phase.MERGED or tid in stuck:
            continue
        queue = state.specs[tid].queue
        waiting = t.phase is Phase.WAITING and serves(state.config.workers, queue)
        if waiting and (state.swarm.draining or not can_claim(state, queue)):
            continue
        return False
    return True
