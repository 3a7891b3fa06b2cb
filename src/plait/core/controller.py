"""The controller: `decide(state, event) -> (state, effects)`. Pure and deterministic.

How this works. Each task serves one operation at a time (`TaskState.current`), and each
operation is a short sequence of steps (see `FIRST_STEP` / `_after`). Every step is one
effect; while it is under way its id sits in `TaskState.in_flight`, and only the result
naming that id moves the task on — duplicates and late results (after a crash and a re-run)
are ignored. Handlers below only change state; `plait.core.scheduler.schedule` then looks
at the whole run and emits the effects for whatever can go next, within the caps. Events
that arrived together share one look (`decide_batch`): every handler runs, the scheduler
only after the last (and after one whose sender waits for its answer). A replay decides
each event as it was decided (`decide_each`, with the flags the log recorded).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from plait.core import events as ev
from plait.core import issue_write, landing, risk_gate, swarm
from plait.core.cooldown import LIMIT_FAILURES, cool_down, recovered
from plait.core.effects import Effect
from plait.core.graph import critical_path, has_cycle
from plait.core.missions import is_mission, plan_restart, subtree, why_it_ended
from plait.core.model import (
    AGENT_OPS,
    Budget,
    CIStatus,
    Counters,
    Op,
    OpKind,
    Phase,
    PRView,
    RunState,
    TaskState,
    Usage,
)
from plait.core.notices import notices
from plait.core.plan import TaskSpec
from plait.core.scheduler import FIRST_STEP, schedule
from plait.core.task import agent_of, attention_reason, enqueue, fresh
from plait.core.taskmap import indexed_tasks

if TYPE_CHECKING:  # mypy checks each field's type through its dataclasses plugin
    from dataclasses import replace
else:  # the same copy, about twice as fast (P2)
    from plait.core.copying import replace


@dataclass(frozen=True, slots=True)
class Decision:
    state: RunState
    effects: tuple[Effect, ...]
    # Whether the scheduler looked at the run after this event (False: deferred to a later
    # event of its batch); the store records it so that a replay decides the same.
    scheduled: bool = True


class ControllerError(Exception):
    """An event that cannot apply to this state (a bug in the caller, not user input)."""


def initial_state(event: ev.RunStarted) -> RunState:
    specs = {t.id: t for t in event.tasks}
    order = tuple(t.id for t in event.tasks)
    rank = critical_path(event.tasks)
    index = {tid: i for i, tid in enumerate(order)}
    start_order = tuple(sorted(order, key=lambda t: (-rank[t], index[t])))
    state = RunState(
        config=event.config,
        specs=specs,
        order=order,
        start_order=start_order,
        tasks={tid: TaskState(id=tid) for tid in order},
        title=event.title,
        context=event.context,
        now=event.at,
    )
    return replace(state, tasks=indexed_tasks(state))


def decide(state: RunState | None, event: ev.Event, *, scheduling: bool = True) -> Decision:
    """Apply `event` to `state`, then (with `scheduling`) let the scheduler look at the
    whole run and emit the effects of whatever can go next.

    `scheduling=False` defers that look: the event's handler changes the state and the
    decision carries only the effects the event itself asks for (notifications, issue
    writes). The engine decides a batch of events that arrived together so, scheduling
    once after the batch's last event (`decide_batch`), and records which events it
    deferred so that a replay decides them the same way (`plait.store.replay`).
    """
    before: RunState | None = None
    if isinstance(event, ev.RunStarted):
        if state is not None:
            raise ControllerError("a run can start only once")
        state = initial_state(event)
        state = replace(state, events=state.events + 1)
    elif state is None:
        raise ControllerError(f"{type(event).__name__} before RunStarted")
    else:
        # After a load or a decode the tasks are a plain dict: index them once.
        tasks = indexed_tasks(state)
        now = max(state.now, event.at)
        state = before = replace(state, now=now, tasks=tasks, events=state.events + 1)
        handler = _HANDLERS.get(type(event))
        drained = _drain(state, event)
        if drained is not None:
            state = drained
        elif handler is not None:
            state = handler(state, event)
        if state.swarm.workers:
            state = swarm.settle(state)
    effects: tuple[Effect, ...] = ()
    if scheduling:
        state, effects = schedule(state)
    if isinstance(event, ev.IssueWriteAsked):
        effects = (*effects, *issue_write.effects_of(state, event))
    if before is not None and state.config.notify_on:
        effects = (*effects, *notices(before, state))
    return Decision(state, effects, scheduling)


def decide_each(
    state: RunState | None, events: Iterable[tuple[ev.Event, bool]]
) -> Iterator[Decision]:
    """Decide events one after another, each with its scheduling flag (`decide`): the one
    way a batch is decided, by the engine (`decide_batch`) and by every replay of the
    log (the flags as recorded)."""
    for event, scheduling in events:
        decision = decide(state, event, scheduling=scheduling)
        yield decision
        state = decision.state


def decide_batch(
    state: RunState | None, events: Sequence[ev.Event], *, waiting: Collection[int] = ()
) -> list[Decision]:
    """Decide events that arrived together: one decision per event, the scheduler run
    once, after the last of them, and after each whose sender waits for the answer (its
    positions in `waiting`: that answer must show the effects the event leads to). Each
    decision says whether the scheduler ran after it (`Decision.scheduled`)."""
    last = len(events) - 1
    flags = [i == last or i in waiting for i in range(len(events))]
    return list(decide_each(state, zip(events, flags, strict=True)))


# ---- helpers -------------------------------------------------------------------------
def _put(state: RunState, task: TaskState) -> RunState:
    return replace(state, tasks=indexed_tasks(state).updated({task.id: task}))


def _dependents(state: RunState, task_id: str) -> tuple[str, ...]:
    """Tasks that depend on `task_id`, in plan order: the only ones that can stack on it."""
    return indexed_tasks(state).shape.dependents[task_id]


def _accept(state: RunState, event: ev.EffectResult) -> TaskState | None:
    """The task this result moves on, or None when the result is stale."""
    task = state.tasks.get(event.task)
    if task is None or not task.in_flight or task.in_flight != event.effect_id:
        return None
    return replace(task, in_flight="")


def _drain(state: RunState, event: ev.Event) -> RunState | None:
    """The result of an effect that was under way when its task landed: it only ends."""
    if not isinstance(event, ev.EffectResult):
        return None
    task = state.tasks.get(event.task)
    if task is None or task.phase is not Phase.MERGED or task.in_flight != event.effect_id:
        return None
    if task.current is not None and task.current.kind is OpKind.CLEANUP:
        return None
    return _put(state, replace(_done(task), in_flight=""))


def _done(task: TaskState) -> TaskState:
    return replace(task, current=None, step="", retry_at=0.0, nudged=False)


def _backoff(state: RunState, failures: int) -> float:
    factor: int = 2 ** max(0, min(failures - 1, 6))
    return state.now + state.config.retry_seconds * factor


def _after_push(task: TaskState) -> TaskState:
    """What follows a push within the current operation."""
    if task.pr is None:
        return replace(task, step="open_pr")
    return _after_pr(task)


def _after_pr(task: TaskState) -> TaskState:
    if task.current is not None and task.current.kind is OpKind.REVIEW and task.threads_answered:
        return replace(task, step="resolve")
    # A resolved conflict is a finished rebase: the PR may need the new base too.
    if task.current is not None and task.current.kind in (OpKind.REBASE, OpKind.CONFLICT):
        return _after_rebase_push(task)
    return _done(task)


def _after_rebase_push(task: TaskState) -> TaskState:
    if task.pr is not None and task.pr.base != task.base_branch:
        return replace(task, step="retarget")
    return _done(task)


E = TypeVar("E", bound=ev.Event)


# ---- handlers ------------------------------------------------------------------------
def _on_workspace_ready(state: RunState, event: ev.WorkspaceReady) -> RunState:
    task = _accept(state, event)
    if task is None:
        return state
    task = replace(
        task,
        worktree=event.path,
        base_sha=event.base_sha,
        phase=Phase.ACTIVE,
        started_at=task.started_at or event.at,
        step=_first_step_after_workspace(task),
    )
    return _put(state, task)


def _first_step_after_workspace(task: TaskState) -> str:
    op = task.current
    if op is None or op.kind in AGENT_OPS:
        return "agent"
    return FIRST_STEP[op.kind]


def _on_agent_finished(state: RunState, event: ev.AgentFinished) -> RunState:
    task = _accept(state, event)
    if task is None or task.current is None:
        return state
    op = task.current
    same_session = bool(event.session_id) and event.session_id == task.session_id
    mark = task.session_usage if same_session else Usage()
    used = event.usage.since(mark) if event.usage_cumulative else event.usage
    task = replace(
        task,
        usage=task.usage + used + event.interrupted_usage,
        session_usage=event.usage if event.usage_cumulative else Usage(),
        turns=task.turns + int(event.started) + event.interrupted_turns,
        agent_seconds=round(task.agent_seconds + event.seconds + event.interrupted_seconds, 6),
        turn_ended_at=event.at,
        session_id=event.session_id or task.session_id,
        exit_code=event.exit_code,
    )
    backend = agent_of(state, task.id)
    if not event.ok and event.failure == "killed":
        # Stopped by a person: the turn repeats when they retry, continuing the session.
        task = replace(task, interrupted=True, nudged=False, last_error=event.error)
        return _put(state, task)
    task = replace(task, interrupted=False)
    if not event.ok and event.failure in LIMIT_FAILURES:
        return _cool_down(state, task, backend, event)
    spec = state.specs[task.id]
    if spec.landing == "merge":
        state, event = _take_proposals(state, task, event)
        landed = landing.after_turn(state, task, event)
        if landed is not None:
            return landed
    # A mission's exit goes to its restart policy (silence included: the activity timeout
    # stopped it); a lost session is plait's own recovery, as for any task.
    by_policy = is_mission(spec) and not (
        not event.ok and event.failure == "session" and task.session_id
    )
    stalled = not event.ok and event.failure == "stalled"
    if stalled and not by_policy and not task.nudged and task.session_id:
        # Silent for too long: one nudge turn in the same session before giving up on it.
        task = replace(task, nudged=True, last_error=event.error, retry_at=0.0)
        return _put(state, task)
    state = replace(state, cooldowns=recovered(state.cooldowns, backend))
    if by_policy and (not event.ok or spec.landing == "none"):
        return _mission_exit(state, task, event)
    if not event.ok:
        state = _put(state, _agent_failed(state, task, event))
        if event.failure == _FORBIDDEN:
            state = swarm.stop_for_person(state, task.id, state.tasks[task.id].failed)
        return state
    task = replace(task, last_reply=event.reply, last_error="", nudged=False)
    if spec.landing == "none":
        # The answer is the result: nothing to push or merge.
        return _land_answer(state, task, event.at)
    if op.kind is OpKind.START and event.commits_ahead == 0:
        failed = replace(event, error="the agent finished without committing any change")
        return _put(state, _agent_failed(state, task, failed))
    if op.kind in (OpKind.CI, OpKind.CONFLICT) and event.head_sha in ("", task.head_sha):
        # Red CI or an unfinished rebase stays as it was: nothing else would ever retry it.
        failed = replace(event, error=f"the agent finished without committing a {op.kind} fix")
        return _put(state, _agent_failed(state, task, failed))
    if op.kind is OpKind.CONFLICT and op.onto_sha:
        task = _rebased_onto(state, replace(task, base_sha=op.onto_sha), op.onto)
    if op.kind is OpKind.REVIEW:
        task = replace(task, threads_answered=tuple(t.id for t in op.threads))
    if event.head_sha and event.head_sha != task.head_sha:
        return _put(state, replace(task, step="push"))
    # Nothing new to push (an answer without code changes).
    return _put(state, _after_push(task) if task.pr is not None else replace(task, step="push"))


def _land_answer(state: RunState, task: TaskState, at: float) -> RunState:
    """A task whose answer is its result is done. One that worked in a directory of its
    own leaves nothing for plait to clean up there."""
    cleaned = bool(state.specs[task.id].cwd)
    task = replace(_done(task), phase=Phase.MERGED, finished_at=at, cleaned=cleaned)
    return _land_teams(_put(state, task), task.id, at)


def _land_teams(state: RunState, task_id: str, at: float) -> RunState:
    """A team is done the moment its last child is (and so, in turn, its own team)."""
    for tid in _dependents(state, task_id):
        spec, team = state.specs[tid], state.tasks[tid]
        if not spec.team or team.phase is not Phase.WAITING:
            continue
        if all(state.tasks[d].phase is Phase.MERGED for d in spec.depends_on):
            team = replace(team, phase=Phase.MERGED, finished_at=at, cleaned=True)
            state = _land_teams(_put(state, team), tid, at)
    return state


def _mission_exit(state: RunState, task: TaskState, event: ev.AgentFinished) -> RunState:
    """The mission's agent ended: restart it as its policy says, or end the mission."""
    policy = state.specs[task.id].restart
    assert policy is not None
    if event.ok:
        task = replace(task, last_reply=event.reply, last_error="", nudged=False)
    else:
        task = replace(task, last_error=event.error or event.failure or "agent failed")
    planned = plan_restart(policy, task.restarts, state.now, ok=event.ok, failure=event.failure)
    if planned is None and event.ok:
        return _land_answer(state, task, event.at)
    if planned is None:
        why = why_it_ended(policy, failure=event.failure)
        return _put(state, replace(task, failed=f"{task.last_error} ({why})", nudged=False))
    due, history = planned
    if event.ok or event.failure in _FRESH_SESSION:
        # A clean start: a new session with the original prompt.
        task = replace(task, session_id="", interrupted=False)
    else:
        # A crash mid-way: the session it saved continues, told to carry on.
        task = replace(task, interrupted=bool(task.session_id))
    return _put(state, replace(task, retry_at=due, restarts=history, nudged=False))


def _take_proposals(
    state: RunState, task: TaskState, event: ev.AgentFinished
) -> tuple[RunState, ev.AgentFinished]:
    """Follow-up tasks a worker proposed join the queue (if its group may plan): new ids
    only, dependencies on tasks that exist, landing by merge. Returns the event with the
    proposals that were taken (a re-run turn proposing the same ids adds nothing)."""
    if not event.proposed:
        return state, event
    if not event.ok or not swarm.may_propose(state, task):
        return state, replace(event, proposed=())
    fresh_ids = [s.id for s in event.proposed if s.id not in state.specs]
    known = set(state.specs).union(fresh_ids)
    origin = f"agent:{task.id}"
    taken = tuple(
        replace(
            s,
            depends_on=tuple(d for d in s.depends_on if d in known and d != s.id),
            landing="merge",
            queue="tasks",
            origin=origin,
            plan=state.specs[task.id].plan,
        )
        for s in event.proposed
        if s.id in fresh_ids
    )
    if taken:
        state = _on_tasks_added(state, ev.TasksAdded(at=event.at, tasks=taken))
    return state, replace(event, proposed=taken or event.proposed)


def _cool_down(state: RunState, task: TaskState, backend: str, event: ev.AgentFinished) -> RunState:
    """A limit pauses the backend; the task keeps its op and session and retries later."""
    cooldowns = cool_down(
        state.cooldowns,
        backend,
        failure=event.failure,
        now=state.now,
        reset_at=event.reset_at,
        base=state.config.cooldown_seconds,
    )
    until = cooldowns[backend].until
    error = f"{backend}: {event.failure.replace('_', ' ')}; cooling down until {until:.0f}"
    task = replace(task, last_error=error, retry_at=until)
    return _put(replace(state, cooldowns=cooldowns), task)


# Failures no retry can fix without a human: go straight to needs-attention.
_HOPELESS = frozenset({"auth", "permission"})
# Failures where the session itself is the problem: the next try starts a fresh one.
_FRESH_SESSION = frozenset({"session", "context_overflow", "stalled"})
# What the shell reports for a turn that broke one of plait's rules (it touched main).
_FORBIDDEN = "forbidden"


def _agent_failed(state: RunState, task: TaskState, event: ev.AgentFinished) -> TaskState:
    if event.failure == _FORBIDDEN:
        # The agent broke one of plait's rules (it touched main): no retry would be wiser;
        # a person looks, and `retry` clears it.
        error = event.error or "the agent broke one of plait's rules"
        return replace(task, last_error=error, failed=error, retry_at=0.0, nudged=False)
    if event.failure == "session" and task.session_id:
        # The session to resume is gone (some CLIs save one only after a model answer):
        # falling back to a fresh session is plait's own recovery, not a failure. It
        # cannot repeat, since a fresh session resumes nothing.
        return replace(task, session_id="", last_error=event.error, retry_at=0.0, nudged=False)
    c = task.counters
    is_start = task.current is not None and task.current.kind is OpKind.START
    counters = (
        replace(c, start_failures=c.start_failures + 1)
        if is_start
        else replace(c, turn_failures=c.turn_failures + 1)
    )
    failures = counters.start_failures if is_start else counters.turn_failures
    if event.failure in _HOPELESS:
        # Not logged in, or no permission: say that, after this one turn.
        counters = replace(c, login_failures=c.login_failures + 1)
    # A session that cannot be resumed (or that stalled even after a nudge, or overflowed
    # its context) falls back to a fresh one, told what was done so far.
    session = "" if event.failure in _FRESH_SESSION else task.session_id
    error = event.error or event.failure or "agent failed"
    return replace(
        task,
        counters=counters,
        session_id=session,
        last_error=error,
        retry_at=_backoff(state, failures),
        nudged=False,
    )


def _on_pushed(state: RunState, event: ev.Pushed) -> RunState:
    task = _accept(state, event)
    if task is None:
        return state
    changed = event.head_sha != task.head_sha
    task = replace(task, head_sha=event.head_sha)
    if changed and task.pr is not None:
        # A poll may have reported this head (CI failed, not mergeable) before the push
        # result came back; the poller sends a view only when it changes, so note it now.
        task = _note_mergeable(state, _note_ci(state, task, task.pr), task.pr)
    state = _put(state, _after_push(task))
    return _restack_children(state, task.id) if changed else state


def _restack_children(state: RunState, parent: str) -> RunState:
    """A stacked child follows its base: new commits on the base → rebase the child."""
    head = state.tasks[parent].head_sha
    for tid in _dependents(state, parent):
        child = state.tasks[tid]
        if (
            child.stacked_on == parent
            and child.phase is Phase.ACTIVE
            and child.base_branch == state.tasks[parent].branch
            and child.base_sha
            and child.base_sha != head
        ):
            op = Op(kind=OpKind.REBASE, key=f"restack:{head}", onto=state.tasks[parent].branch)
            state = _put(state, enqueue(child, op))
    return state


def _on_pr_opened(state: RunState, event: ev.PROpened) -> RunState:
    task = _accept(state, event)
    if task is None:
        return state
    pr = PRView(
        number=event.number,
        draft=True,
        base=task.base_branch,
        head_sha=task.head_sha,
        ci=CIStatus.PENDING,
        url=event.url,
    )
    return _put(state, _after_pr(replace(task, pr=pr)))


def _on_rebased(state: RunState, event: ev.Rebased) -> RunState:
    task = _accept(state, event)
    if task is None:
        return state
    if task.current is not None and task.current.kind is OpKind.LAND:
        return landing.on_synced(state, task, event)
    task = replace(task, base_sha=event.base_sha)
    if task.current is not None:
        task = _rebased_onto(state, task, task.current.onto)
    if event.head_sha != task.head_sha:
        return _put(state, replace(task, step="push"))
    return _put(state, _after_rebase_push(task))


def _on_rebase_conflict(state: RunState, event: ev.RebaseConflict) -> RunState:
    task = _accept(state, event)
    if task is None or task.current is None:
        return state
    if task.current.kind is OpKind.LAND:
        return landing.on_sync_conflict(state, task, event)
    onto = task.current.onto
    task = _done(task)
    op = Op(
        kind=OpKind.CONFLICT,
        key=event.onto_sha,
        paths=event.paths,
        onto=onto,
        onto_sha=event.onto_sha,
    )
    return _put(state, enqueue(task, op))


def _on_merged(state: RunState, event: ev.Merged) -> RunState:
    task = _accept(state, event)
    if task is None:
        return state
    return _land(state, task, event.sha, event.at)


def _land(state: RunState, task: TaskState, sha: str, at: float) -> RunState:
    pr = replace(task.pr, state="merged", merge_sha=sha) if task.pr is not None else None
    # Landed behind our back (a poll saw the PR merged) while an effect is under way: the
    # task keeps that op until its result arrives (see `_drain`), so its agent slot stays
    # taken and no cleanup runs under a live agent or git step.
    task = replace(
        task if task.in_flight else _done(task),
        phase=Phase.MERGED,
        merge_sha=sha,
        finished_at=at,
        queue=(),
        pr=pr,
        overlaps=(),
    )
    state = _land_teams(swarm.end_cycle(_put(state, task), task.id, "merged"), task.id, at)
    main = state.config.main_branch
    for tid in _dependents(state, task.id):
        child = state.tasks[tid]
        if child.stacked_on != task.id or child.phase is not Phase.ACTIVE:
            continue
        # The child keeps its base branch until the rebase onto main is done, so the
        # landed branch is not cleaned up under it.
        child = enqueue(child, Op(kind=OpKind.REBASE, key=f"landed:{task.id}", onto=main))
        state = _put(state, child)
    return state


def _rebased_onto(state: RunState, task: TaskState, onto: str) -> TaskState:
    """After a rebase or a resolved conflict onto `onto`, that is the task's base."""
    if not onto:
        return task
    main = state.config.main_branch
    return replace(task, base_branch=onto, stacked_on=None if onto == main else task.stacked_on)


def _on_step_done(state: RunState, event: ev.StepDone) -> RunState:
    task = _accept(state, event)
    if task is None:
        return state
    if task.step == "ready" and task.pr is not None:
        task = replace(task, pr=replace(task.pr, draft=False))
    elif task.step == "retarget" and task.pr is not None:
        task = replace(task, pr=replace(task.pr, base=task.base_branch))
    elif task.step == "resolve" and task.pr is not None:
        answered = set(task.threads_answered)
        threads = tuple(t for t in task.pr.threads if t.id not in answered)
        task = replace(task, threads_answered=(), pr=replace(task.pr, threads=threads))
    elif task.step == "cleanup":
        task = replace(task, cleaned=True)
    elif task.step == "discard":
        return _put(state, fresh(task))
    return _put(state, _done(task))


_RETRYING_STEPS = {
    "push": "push_failures",
    "open_pr": "push_failures",
    "rebase": "rebase_failures",
    "workspace": "start_failures",
    "retarget": "push_failures",
    "resolve": "push_failures",
    "discard": "push_failures",
    "sync": "rebase_failures",
    "land": "merge_failures",
    "risk": "risk_failures",
}


# How long a step held by something outside the task (`StepFailed.held`) waits before it
# is tried again, in retry_seconds: not counted, so not backed off either.
_HELD_RETRIES = 5


def _on_step_failed(state: RunState, event: ev.StepFailed) -> RunState:
    task = _accept(state, event)
    if task is None:
        return state
    field = _RETRYING_STEPS.get(task.step, "merge_failures" if task.step == "merge" else "")
    counters = task.counters
    if event.held and event.retryable:
        # Not the task's failure (the user's main checkout is dirty): it waits, saying why.
        retry_at = state.now + state.config.retry_seconds * _HELD_RETRIES
    else:
        failures = 1
        if field:
            failures = getattr(counters, field) + 1
            if not event.retryable:
                failures = max(failures, state.config.failure_cap)
            counters = replace(counters, **{field: failures})
        retry_at = _backoff(state, failures)
    task = replace(task, counters=counters, last_error=event.error, retry_at=retry_at)
    if task.step in ("merge", "ready", "cleanup", "risk"):
        # Housekeeping is re-derived from the PR's state, so give the task back now:
        # a queued rebase (say) must not wait behind a merge that cannot happen.
        task = replace(task, current=None, step="")
    return _put(state, task)


def _on_pr_changed(state: RunState, event: ev.PRChanged) -> RunState:
    task = state.tasks.get(event.task)
    if task is None or task.phase is not Phase.ACTIVE or task.pr is None:
        return state
    if event.pr.number != task.pr.number:
        return state
    if event.pr.state == "merged":
        return _land(state, task, event.pr.merge_sha, event.at)
    view = event.pr
    task = replace(task, pr=view)
    watched = state.specs[task.id].landing == "watch"
    if watched and view.head_sha and task.current is None and not task.in_flight:
        # An adopted PR is also pushed to by people: follow its head when plait is idle.
        task = replace(task, head_sha=view.head_sha)
    task = _note_ci(state, task, view)
    task = _note_threads(task, view)
    task = _note_mergeable(state, task, view)
    return _put(state, task)


def _note_ci(state: RunState, task: TaskState, view: PRView) -> TaskState:
    if view.ci is not CIStatus.FAILED or view.head_sha != task.head_sha:
        return task
    if view.head_sha in task.ci_handled:
        return task
    c = task.counters
    task = replace(
        task,
        ci_handled=(*task.ci_handled, view.head_sha)[-20:],
        counters=replace(c, ci_failures=c.ci_failures + 1),
        last_error=f"CI failed on {view.head_sha[:7]}",
    )
    if task.counters.ci_failures >= state.config.ci_failure_cap:
        return task
    return enqueue(task, Op(kind=OpKind.CI, key=view.head_sha, text=view.ci_evidence))


def _note_threads(task: TaskState, view: PRView) -> TaskState:
    seen = set(task.threads_seen)
    fresh = tuple(t for t in view.threads if t.id not in seen)
    if not fresh:
        return task
    task = replace(task, threads_seen=(*task.threads_seen, *(t.id for t in fresh)))
    key = ",".join(sorted(t.id for t in fresh))
    return enqueue(task, Op(kind=OpKind.REVIEW, key=key, threads=fresh))


def _note_mergeable(state: RunState, task: TaskState, view: PRView) -> TaskState:
    main = state.config.main_branch
    if view.mergeable is not False or view.base != main or task.base_branch != main:
        return task
    if view.head_sha != task.head_sha or view.head_sha in task.rebase_keys:
        return task
    # A rebase still under way may fix this head; once it has pushed, this head is its
    # result, and main has moved again since.
    busy = (
        task.current is not None
        and task.current.kind in (OpKind.REBASE, OpKind.CONFLICT)
        and task.step in ("rebase", "agent")
    )
    if busy or any(op.kind in (OpKind.REBASE, OpKind.CONFLICT) for op in task.queue):
        return task
    task = replace(task, rebase_keys=(*task.rebase_keys, view.head_sha)[-20:])
    return enqueue(task, Op(kind=OpKind.REBASE, key=f"behind:{view.head_sha}", onto=main))


def _on_human_message(state: RunState, event: ev.HumanMessage) -> RunState:
    task = state.tasks.get(event.task)
    if task is None or task.phase is Phase.MERGED:
        return state
    # A human message clears needs-attention: the counters start over.
    task = replace(task, counters=Counters(), retry_at=0.0, last_error="", failed="")
    op = task.current
    if op is not None and op.kind in AGENT_OPS and task.step == "agent" and not task.in_flight:
        # The op's turn failed and waits to be tried again: that try carries the message.
        note = f"{op.note}\n\n{event.text}".strip()
        return _put(state, replace(task, current=replace(op, note=note)))
    op = Op(kind=OpKind.HUMAN, key=event.message_id, text=event.text)
    return _put(state, enqueue(task, op))


def _on_landing_routed(state: RunState, event: ev.LandingRouted) -> RunState:
    spec, task = state.specs.get(event.task), state.tasks.get(event.task)
    routable = ("pr", "watch")
    if spec is None or task is None or task.phase is Phase.MERGED:
        return state
    if spec.landing not in routable or event.landing not in routable:
        return state
    if spec.landing == event.landing:
        return state
    specs = {**dict(state.specs), spec.id: replace(spec, landing=event.landing)}
    return replace(state, specs=specs)


def _on_task_adopted(state: RunState, event: ev.TaskAdopted) -> RunState:
    spec = event.spec
    if spec.id in state.specs:
        return state  # adopted already (the event was posted twice)
    pr = PRView(number=event.pr, draft=event.draft, base=event.base, head_sha=event.head_sha)
    task = TaskState(
        id=spec.id,
        phase=Phase.ACTIVE,
        branch=event.branch,
        base_branch=event.base,
        head_sha=event.head_sha,
        pr=pr,
        started_at=event.at,
    )
    tasks = {**dict(state.tasks), spec.id: task}
    return replace(
        state,
        specs={**dict(state.specs), spec.id: spec},
        order=(*state.order, spec.id),
        start_order=(*state.start_order, spec.id),
        tasks=tasks,
    )


def _on_tasks_added(state: RunState, event: ev.TasksAdded) -> RunState:
    added = event.tasks
    ids = [s.id for s in added]
    if not added or len(set(ids)) != len(ids) or any(i in state.specs for i in ids):
        return state
    known = set(state.specs).union(ids)
    if any(d not in known or d == s.id for s in added for d in s.depends_on):
        return state
    if any(s.parent and (s.parent not in known or s.parent == s.id) for s in added):
        return state
    if has_cycle(added):
        return state
    specs = {**dict(state.specs), **{s.id: s for s in added}}
    order = (*state.order, *ids)
    rank = critical_path(specs.values())
    index = {tid: i for i, tid in enumerate(order)}
    start_order = tuple(sorted(order, key=lambda t: (-rank[t], index[t])))
    tasks = {**dict(state.tasks), **{s.id: _new_task(state, s, event.at) for s in added}}
    contexts = state.contexts
    if event.plan and event.context:
        contexts = {**dict(contexts), event.plan: event.context}
    return replace(
        state, specs=specs, order=order, start_order=start_order, tasks=tasks, contexts=contexts
    )


def _new_task(state: RunState, spec: TaskSpec, at: float) -> TaskState:
    """A task just added. A mission started under a stopped one starts stopped (a lead
    agent being killed may still spawn a child in its last second)."""
    parent = state.tasks.get(spec.parent) if spec.parent else None
    stopped = f"its parent {spec.parent} is stopped" if parent and parent.stopped else ""
    return TaskState(id=spec.id, stopped=stopped, started_at=at if spec.team else 0.0)


def _on_task_killed(state: RunState, event: ev.TaskKilled) -> RunState:
    if event.task not in state.tasks:
        return state
    # A turn under way is stopped by the engine and answers "killed"; git and forge
    # steps under way finish (they are short), and nothing new starts.
    for tid in subtree(state, event.task) if event.cascade else (event.task,):
        task = state.tasks[tid]
        if task.phase is Phase.MERGED or task.stopped:
            continue
        reason = event.reason if tid == event.task else f"stopped with {event.task}"
        state = _put(state, replace(task, stopped=reason or "stopped"))
    return state


def _on_task_retried(state: RunState, event: ev.TaskRetried) -> RunState:
    if event.task not in state.tasks:
        return state
    for tid in subtree(state, event.task) if event.cascade else (event.task,):
        task = state.tasks[tid]
        if task.phase is Phase.MERGED:
            continue
        task = replace(task, stopped="", retry_at=0.0, failed="", restarts=())
        if attention_reason(task, state.config):
            task = replace(task, counters=Counters(), last_error="")
        state = _put(state, task)
    return state


def _on_task_reset(state: RunState, event: ev.TaskReset) -> RunState:
    task = state.tasks.get(event.task)
    if task is None or task.phase is Phase.MERGED:
        return state
    if event.hard:
        return _hard_reset(state, task)
    task = replace(
        task,
        stopped="",
        counters=Counters(),
        retry_at=0.0,
        last_error="",
        nudged=False,
        ci_handled=(),
        rebase_keys=(),
        failed="",
        restarts=(),
    )
    if task.pr is not None and task.current is None:
        # The red CI or the conflict that wore the counters out is still there: queue it
        # again, as a fresh poll would.
        task = _note_mergeable(state, _note_ci(state, task, task.pr), task.pr)
    return _put(state, task)


def _hard_reset(state: RunState, task: TaskState) -> RunState:
    if stacked_children(state, task.id):
        return state  # its branch is another task's base: reset that one first
    if state.specs[task.id].cwd or (not task.branch and not task.worktree and task.pr is None):
        # A mission working in a directory of its own: that directory is not plait's to
        # throw away, so it only starts over.
        return _put(state, fresh(task))
    # Whatever was under way is abandoned (the engine stops a running turn and runs this
    # task's effects one after another, so the discard never races it).
    discard = Op(kind=OpKind.DISCARD)
    task = replace(
        task,
        in_flight="",
        current=discard,
        step=FIRST_STEP[OpKind.DISCARD],
        queue=(),
        stopped="",
        counters=Counters(),
        retry_at=0.0,
        nudged=False,
        interrupted=False,
    )
    return _put(state, task)


def stacked_children(state: RunState, task_id: str) -> tuple[str, ...]:
    """Started tasks whose branch is based on `task_id`'s branch."""
    return tuple(
        tid
        for tid in _dependents(state, task_id)
        if state.tasks[tid].phase is Phase.ACTIVE
        and (
            state.tasks[tid].stacked_on == task_id
            or state.tasks[tid].base_branch == state.tasks[task_id].branch
        )
    )


def _on_config_changed(state: RunState, event: ev.ConfigChanged) -> RunState:
    # The project's identity is fixed at its start; settings around it may change.
    config = replace(event.config, project=state.config.project, repo=state.config.repo)
    return replace(state, config=config)


def _on_tick(state: RunState, event: ev.Tick) -> RunState:
    return state


def _on_budget_set(state: RunState, event: ev.BudgetSet) -> RunState:
    change = Budget(tokens=event.tokens, dollars=event.dollars)
    if not event.task:
        return replace(state, budget=change.over(state.budget))
    task = state.tasks.get(event.task)
    if task is None:
        return state
    return _put(state, replace(task, budget=change.over(task.budget)))


def _on_overlaps_changed(state: RunState, event: ev.OverlapsChanged) -> RunState:
    task = state.tasks.get(event.task)
    if task is None or task.phase is Phase.MERGED or task.overlaps == event.overlaps:
        return state
    return _put(state, replace(task, overlaps=event.overlaps))


def _on_reviewed(state: RunState, event: ev.Reviewed) -> RunState:
    task = _accept(state, event)
    if task is None:
        return state
    second = risk_gate.second_look(task)
    state = landing.on_verdict(state, task, event)
    return risk_gate.note_second(state, task.id, event) if second else state


def _on_risk_assessed(state: RunState, event: ev.RiskAssessed) -> RunState:
    task = _accept(state, event)
    if task is None:
        return state
    return risk_gate.on_assessed(state, task, event)


def _on_merge_refused(state: RunState, event: ev.MergeRefused) -> RunState:
    task = _accept(state, event)
    if task is None:
        return state
    return landing.on_refused(state, task, event)


def _h(fn: Callable[[RunState, E], RunState]) -> Callable[[RunState, ev.Event], RunState]:
    return fn  # type: ignore[return-value]


_HANDLERS: dict[type[ev.Event], Callable[[RunState, ev.Event], RunState]] = {
    ev.WorkspaceReady: _h(_on_workspace_ready),
    ev.AgentFinished: _h(_on_agent_finished),
    ev.Pushed: _h(_on_pushed),
    ev.PROpened: _h(_on_pr_opened),
    ev.Rebased: _h(_on_rebased),
    ev.RebaseConflict: _h(_on_rebase_conflict),
    ev.Merged: _h(_on_merged),
    ev.StepDone: _h(_on_step_done),
    ev.StepFailed: _h(_on_step_failed),
    ev.PRChanged: _h(_on_pr_changed),
    ev.HumanMessage: _h(_on_human_message),
    ev.TaskAdopted: _h(_on_task_adopted),
    ev.Tick: _h(_on_tick),
    ev.TasksAdded: _h(_on_tasks_added),
    ev.TaskKilled: _h(_on_task_killed),
    ev.TaskRetried: _h(_on_task_retried),
    ev.TaskReset: _h(_on_task_reset),
    ev.ConfigChanged: _h(_on_config_changed),
    ev.BudgetSet: _h(_on_budget_set),
    ev.OverlapsChanged: _h(_on_overlaps_changed),
    ev.Reviewed: _h(_on_reviewed),
    ev.MergeRefused: _h(_on_merge_refused),
    ev.SwarmStarted: _h(swarm.on_started),
    ev.SwarmStopping: _h(swarm.on_stopping),
    ev.LandingRouted: _h(_on_landing_routed),
    ev.RiskAssessed: _h(_on_risk_assessed),
}
