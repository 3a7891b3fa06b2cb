"""Who goes next: emit effects for every task that can move, within the caps.

Order of service: work already under way first (its next step), then feedback on open
work (rebase, human message, conflict, CI, review — in that order, across tasks), then
plait's own forge housekeeping, then new starts by critical path (a slot may wait for
what a landing task unlocks: core.holding). Agent turns count against the global,
per-class and per-backend caps; git and forge steps do not.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, TypedDict

from plait.core import effects as fx
from plait.core import holding, landing, path_classes, reviewing, risk_gate, swarm
from plait.core.budget import project_over, task_over
from plait.core.cooldown import cooling
from plait.core.graph import readiness
from plait.core.missions import launch_of, start_template
from plait.core.model import (
    AGENT_OPS,
    FEEDBACK_PRIORITY,
    Op,
    OpKind,
    Phase,
    RunState,
    TaskState,
    WorkerGroup,
    WorkerState,
)
from plait.core.overlap import holders
from plait.core.task import (
    agent_of,
    attention_reason,
    group_of,
    merge_gate,
    model_of,
    next_op,
    take,
    turn_pending,
    wants_ready,
)
from plait.core.taskmap import TaskMap, indexed_tasks, put

if TYPE_CHECKING:  # mypy checks each field's type through its dataclasses plugin
    from dataclasses import replace
else:  # the same copy, about twice as fast (P2)
    from plait.core.copying import replace

FIRST_STEP: dict[OpKind, str] = {
    OpKind.START: "workspace",
    OpKind.HUMAN: "agent",
    OpKind.CONFLICT: "agent",
    OpKind.CI: "agent",
    OpKind.REVIEW: "agent",
    OpKind.REBASE: "rebase",
    OpKind.READY: "ready",
    OpKind.MERGE: "merge",
    OpKind.CLEANUP: "cleanup",
    OpKind.DISCARD: "discard",
    OpKind.CHANGES: "agent",
    OpKind.VERDICT: "verdict",
    OpKind.LAND: "sync",
    OpKind.RISK: "risk",
}

_AGENT_STEPS = ("workspace", "agent")

_Out = list[fx.Effect]


class _Ids(TypedDict):
    id: str
    task: str


def uses_slot(task: TaskState) -> bool:
    if task.step == "verdict":
        return True  # a reviewer's turn: a slot of the reviewer's backend
    return task.current is not None and task.current.kind in AGENT_OPS and task.step in _AGENT_STEPS


def prepared_ahead(state: RunState, task: TaskState) -> bool:
    """A start whose worktree is made (or waits, made) without an agent slot: see
    `RunConfig.prepare_ahead`. Swarm claims keep their slot from the claim on."""
    return (
        state.config.prepare_ahead > 0
        and task.current is not None
        and task.current.kind is OpKind.START
        and (task.step == "workspace" or turn_pending(task))
        and not task.worker
        and not task.stopped
    )


def holds_slot(state: RunState, task: TaskState) -> bool:
    """Whether the task's step under way counts against the caps now."""
    return uses_slot(task) and bool(task.in_flight) and not prepared_ahead(state, task)


def slot_agent(state: RunState, task: TaskState) -> str:
    """The backend whose slot the task's next (or current) turn takes."""
    if task.step == "verdict":
        return reviewing.reviewer_for(state, task).agent
    return agent_of(state, task.id)


@dataclass
class _Slots:
    """Running counts of agent turns, checked against the caps."""

    state: RunState
    total: int = 0
    # defaultdict, not Counter: made on every event, and a Counter is slower to make.
    by_class: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_agent: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    ahead: int = 0  # starts prepared ahead, not yet holding a slot (prepared_ahead)
    ahead_by_class: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    ahead_by_agent: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    _over: str | None = None  # the project's budget verdict, once asked

    def project_over(self) -> str:
        if self._over is None:
            self._over = project_over(self.state)
        return self._over

    def agent_of(self, task_id: str) -> str:
        return agent_of(self.state, task_id)

    def room_to_start(self, kept: int = 0) -> bool:
        """Whether a new start may begin, `kept` slots aside: into a free slot or, with
        worktrees made ahead, into the room for them — as many as the free slots (so the
        first worktrees of a run are made alone, not with the ones ahead of them), or
        `prepare_ahead` once the slots are taken."""
        cfg = self.state.config
        return self.ahead + kept < max(cfg.max_concurrency - self.total, cfg.prepare_ahead)

    def add_ahead(self, task_id: str, n: int = 1) -> None:
        """Count (n=1) or, when it takes its slot, uncount (n=-1) a start made ahead."""
        self.ahead += n
        for cls in self._classes(task_id):
            self.ahead_by_class[cls] += n
        self.ahead_by_agent[self.agent_of(task_id)] += n

    def _classes(self, task_id: str) -> list[str]:
        """The task's class and those its changed paths put it in (as `add` counts)."""
        cls = self.state.specs[task_id].task_class
        return [*([cls] if cls else []), *path_classes.by_path(self.state, task_id)]

    def free_ahead(self, task_id: str) -> bool:
        """Whether a start may make its worktree ahead: its class's and agent's caps allow
        one more turn, counting those running and the starts already ahead, and its
        budget allows a turn (a start held by a cap waits unstarted, with its reason)."""
        caps, agent = self.state.config, self.agent_of(task_id)
        for cls in self._classes(task_id):
            in_class = self.by_class[cls] + self.ahead_by_class[cls]
            if cls in caps.class_caps and in_class >= caps.class_caps[cls]:
                return False
        of_agent = self.by_agent[agent] + self.ahead_by_agent[agent]
        if agent in caps.agent_caps and of_agent >= caps.agent_caps[agent]:
            return False
        return not task_over(self.state, self.state.tasks[task_id])

    def add(self, task_id: str, agent: str | None = None) -> None:
        self.total += 1
        cls = self.state.specs[task_id].task_class
        if cls:
            self.by_class[cls] += 1
        for other in path_classes.by_path(self.state, task_id):
            self.by_class[other] += 1
        self.by_agent[agent or self.agent_of(task_id)] += 1

    def free_for(self, task_id: str, agent: str | None = None) -> bool:
        cfg = self.state.config
        if self.total >= cfg.max_concurrency:
            return False
        cls = self.state.specs[task_id].task_class
        if cls and cls in cfg.class_caps and self.by_class[cls] >= cfg.class_caps[cls]:
            return False
        for other in path_classes.by_path(self.state, task_id):
            if other in cfg.class_caps and self.by_class[other] >= cfg.class_caps[other]:
                return False
        agent = agent or self.agent_of(task_id)
        if cooling(self.state.cooldowns, agent, self.state.now):
            return False
        if agent in cfg.agent_caps and self.by_agent[agent] >= cfg.agent_caps[agent]:
            return False
        # A budget holds new turns only: the one under way has its slot already.
        return not (self.project_over() or task_over(self.state, self.state.tasks[task_id]))


def schedule(state: RunState) -> tuple[RunState, tuple[fx.Effect, ...]]:
    """Visits only live tasks (passes 1-3) and startable ones (pass 4): see `TaskMap`.

    A task outside both sets can do nothing this event, so skipping it changes nothing;
    the order of service is the same as a scan of the whole plan would give.
    """
    indexed = indexed_tasks(state)
    live = indexed.live_ids()
    # Working copies of the tasks this event may change, in plan order.
    tasks = indexed.pick(live)
    before = dict(tasks)
    slots = _Slots(state)
    for tid in live:
        if holds_slot(state, tasks[tid]):
            slots.add(tid, slot_agent(state, tasks[tid]))
        elif prepared_ahead(state, tasks[tid]):
            slots.add_ahead(tid)
    out: list[fx.Effect] = []

    def movable(t: TaskState) -> bool:
        # Cheap checks first; `attention_reason` formats its message.
        return (
            not t.in_flight
            and not t.stopped
            and t.retry_at <= state.now
            and t.phase is not Phase.WAITING
            and not attention_reason(t, state.config)
        )

    workers = dict(state.swarm.workers)
    _serve_current(state, tasks, slots, movable, out, workers)
    _serve_feedback(state, tasks, slots, movable, out, workers)
    _serve_housekeeping(state, tasks, slots, movable, out)
    _serve_prepared(state, tasks, slots, movable, out, workers)
    _serve_starts(state, _Overlay(tasks, indexed), slots, workers, out)
    if workers != state.swarm.workers:
        state = replace(state, swarm=replace(state.swarm, workers=workers))
    # Only what the passes replaced (or started: `_serve_starts` adds to `tasks`).
    changed = {tid: t for tid, t in tasks.items() if before.get(tid) is not t}
    return replace(state, tasks=indexed.updated(changed)), tuple(out)


Movable = Callable[[TaskState], bool]


Workers = dict[str, WorkerState]


def _unclaimed(state: RunState, t: TaskState) -> bool:
    """A task of a queue that worker groups serve, with no worker holding it: its claim
    ended for a person (a forbidden turn, or given back `failure_cap` times) and a
    `plait retry` let it go on. Its next turn waits for a worker of its group, so it runs
    on the group's agent, model, effort and prompts again, not on the project's agent."""
    return (
        not t.worker
        and not t.carried_by
        and bool(state.config.workers)
        and swarm.serves(state.config.workers, state.specs[t.id].queue)
    )


def _claimed(
    state: RunState, t: TaskState, workers: Workers, slots: _Slots
) -> tuple[RunState, TaskState] | None:
    """The state and task an agent turn of `t` goes on with: as they are, unless the task
    is `_unclaimed`; then a free worker of its group takes it again and the state returned
    has the claim, for the turn's effect to name the group's agent (None: no worker may
    take it now, the turn waits)."""
    if not _unclaimed(state, t):
        return state, t
    if state.swarm.draining:
        return None
    queue = state.specs[t.id].queue
    worker = swarm.free_worker(state, workers, queue, partial(slots.free_for, t.id))
    if worker is None:
        return None
    t = swarm.claim(state, t, worker, workers)
    return put(state, t), t


def _turn_slot(
    state: RunState, t: TaskState, workers: Workers, slots: _Slots, *, claim: bool = True
) -> tuple[RunState, TaskState] | None:
    """A slot for `t`'s agent turn, taken: the state and task the turn goes on with
    (`_claimed`, unless `claim` is off), or None when no worker or slot is free now."""
    claimed = _claimed(state, t, workers, slots) if claim else (state, t)
    if claimed is None:
        return None
    at, t = claimed
    agent = slot_agent(at, t)
    if not slots.free_for(t.id, agent):
        return None
    slots.add(t.id, agent)
    return at, t


def _serve_current(
    state: RunState,
    tasks: dict[str, TaskState],
    slots: _Slots,
    movable: Movable,
    out: _Out,
    workers: Workers,
) -> None:
    """1. Operations under way: their next step (agent steps need a slot again)."""
    for tid, t in tasks.items():
        if t.current is None or not movable(t) or (t.phase is Phase.MERGED and not t.current):
            continue
        at = state
        if prepared_ahead(state, t):
            if t.step == "agent":
                continue  # a prepared start: after feedback, in `_serve_prepared`
        elif uses_slot(t):
            # A reviewer's verdict is not the worker's turn: it needs no claim.
            taken = _turn_slot(state, t, workers, slots, claim=t.step != "verdict")
            if taken is None:
                continue
            at, t = taken
        tasks[tid], effect = _emit(at, t)
        out.append(effect)


def _serve_prepared(
    state: RunState,
    tasks: dict[str, TaskState],
    slots: _Slots,
    movable: Movable,
    out: _Out,
    workers: Workers,
) -> None:
    """3b. Starts whose worktree was made ahead: their agent turn, as slots free (before
    any new start, after feedback on open work)."""
    if not state.config.prepare_ahead:
        return
    for tid, t in tasks.items():
        if t.step != "agent" or not prepared_ahead(state, t) or not movable(t):
            continue
        taken = _turn_slot(state, t, workers, slots)
        if taken is None:
            continue
        at, t = taken
        slots.add_ahead(tid, -1)
        tasks[tid], effect = _emit(at, t)
        out.append(effect)


def _serve_feedback(
    state: RunState,
    tasks: dict[str, TaskState],
    slots: _Slots,
    movable: Movable,
    out: _Out,
    workers: Workers,
) -> None:
    """2. Feedback, by priority across tasks, then plan order."""
    ranked: list[tuple[int, int, str, Op]] = []
    for i, (tid, t) in enumerate(tasks.items()):
        if t.current is None and t.queue and t.phase is Phase.ACTIVE and movable(t):
            op = next_op(t)
            if op is not None:
                ranked.append((FEEDBACK_PRIORITY.index(op.kind), i, tid, op))
    for _, _, tid, op in sorted(ranked):
        t, at = tasks[tid], state
        if op.kind in AGENT_OPS:
            # Its step is not set yet (the op is taken below): the worker's agent.
            taken = _turn_slot(state, t, workers, slots)
            if taken is None:
                continue
            at, t = taken
        t = take(t, op, FIRST_STEP[op.kind])
        if not t.worktree:
            t = replace(t, step="workspace")  # an adopted PR: check its branch out first
        tasks[tid], effect = _emit(at, t)
        out.append(effect)


def _serve_housekeeping(
    state: RunState, tasks: dict[str, TaskState], slots: _Slots, movable: Movable, out: _Out
) -> None:
    """3. Housekeeping: ready for review, a reviewer's verdict, merge, clean up after
    landing."""
    for tid in tasks:
        t = tasks[tid]
        gate = merge_gate(t, state.config)
        if gate != bool(t.ready_since):
            t = tasks[tid] = replace(t, ready_since=state.now if gate else 0.0)
        if t.current is not None or t.queue:
            continue
        op = _housekeeping(state, tasks, t)
        if op is not None and (movable(t) or (op.kind is OpKind.CLEANUP and not t.stopped)):
            if t.in_flight or t.retry_at > state.now:
                continue
            t = take(_with(t, op), op, FIRST_STEP[op.kind])
            if op.kind is OpKind.RISK and not t.worktree:
                t = replace(t, step="workspace")  # an adopted PR: check its branch out first
            if op.kind is OpKind.VERDICT:
                agent = slot_agent(state, t)
                if not slots.free_for(tid, agent):
                    continue
                slots.add(tid, agent)
            tasks[tid], effect = _emit(state, t)
            out.append(effect)


class _Overlay(Mapping[str, TaskState]):
    """The tasks as this event has changed them so far, over the indexed map."""

    def __init__(self, changed: dict[str, TaskState], indexed: TaskMap) -> None:
        self.changed = changed
        self.indexed = indexed
        # The indexed map's own layers, read here directly: core.holding reads dozens
        # of tasks through this view on most events (P2).
        self._over, self._base = indexed.layers()

    def __getitem__(self, key: str) -> TaskState:
        t = self.changed.get(key)
        if t is None:
            t = self._over.get(key)
            if t is None:
                return self._base[key]
        return t

    def __iter__(self) -> Iterator[str]:
        return iter(self.indexed)

    def __len__(self) -> int:
        return len(self.indexed)


def _serve_starts(
    state: RunState,
    tasks: _Overlay,
    slots: _Slots,
    workers: dict[str, WorkerState],
    out: _Out,
) -> None:
    """4. New starts, longest critical path first, among tasks whose dependencies allow.
    A task of a queue that worker groups serve starts only when a worker claims it."""
    if slots.project_over():
        return  # the project's budget is reached: nothing starts
    indexed = tasks.indexed
    active = indexed.live_ids() if state.config.hold_overlapping else []
    held: list[int] | None = None  # looked for once a start could take a slot
    for tid in indexed.startable_ids():
        if not slots.room_to_start():
            break  # no task could take a slot: the rest of the pass would emit nothing
        if held is None:
            held = holding.held_positions(state, tasks, indexed.live_ids(), indexed.shape)
        # Slots kept for what a landing task unlocks, if it comes first (core.holding).
        if held and not slots.room_to_start(bisect_left(held, indexed.shape.start_position[tid])):
            break  # no task could take a slot: the rest of the pass would emit nothing
        t = tasks[tid]
        if t.phase is not Phase.WAITING or t.current is not None or t.retry_at > state.now:
            continue
        if t.stopped or t.carried_by or state.specs[tid].team:
            continue  # a team runs nothing: it is done when its children are
        if attention_reason(t, state.config):
            continue
        spec = state.specs[tid]
        ready = readiness(spec, tasks, stacked=state.config.stacked)
        if not ready.ready:
            continue
        if holders(state, tid, active, tasks):
            continue  # its declared files overlap a task under way: after that one lands
        if swarm.serves(state.config.workers, spec.queue):
            if state.swarm.draining:
                continue
            worker = swarm.free_worker(state, workers, spec.queue, partial(slots.free_for, tid))
            if worker is None:
                continue
            group = group_of(state.config, worker)
            assert group is not None
            slots.add(tid, group.agent or state.config.agent)
            t = swarm.claim(state, t, worker, workers)
            t = _take_riders(state, tasks, t, group)
        elif state.config.prepare_ahead:
            if not slots.free_ahead(tid):
                continue
            slots.add_ahead(tid)  # its agent step takes a slot (`_serve_prepared`)
        elif not slots.free_for(tid):
            continue
        else:
            slots.add(tid)
        on = ready.stacked_on
        base = tasks[on].branch if on else state.config.main_branch
        tasks.changed[tid], effect = _emit(state, _prepare_start(state, t, on, base))
        out.append(effect)
        if state.config.hold_overlapping:
            active.append(tid)


def _take_riders(state: RunState, tasks: _Overlay, t: TaskState, group: WorkerGroup) -> TaskState:
    """Related waiting tasks ride along with the one just claimed (see swarm.pick_riders)."""
    if group.claim <= 1:
        return t

    def ready(tid: str) -> bool:
        return readiness(state.specs[tid], tasks, stacked=state.config.stacked).ready

    candidates = tasks.indexed.startable_ids()
    riders = swarm.pick_riders(state, tasks, t.id, group, candidates, ready)
    for rid in riders:
        tasks.changed[rid] = replace(tasks[rid], carried_by=t.id)
    return replace(t, riders=riders)


def _with(task: TaskState, op: Op) -> TaskState:
    return replace(task, queue=(*task.queue, op))


def _housekeeping(state: RunState, tasks: dict[str, TaskState], t: TaskState) -> Op | None:
    if t.phase is Phase.MERGED:
        if t.cleaned or not t.worktree:
            return None
        # Retarget children before the base branch goes away. Every active task is live,
        # so `tasks` (the live ones) holds every task that could still use the branch.
        if any(
            o.phase is Phase.ACTIVE
            and (o.base_branch == t.branch or (o.pr is not None and o.pr.base == t.branch))
            for o in tasks.values()
        ):
            return None
        return Op(kind=OpKind.CLEANUP)
    if t.phase is not Phase.ACTIVE:
        return None
    landing_kind = state.specs[t.id].landing
    if landing_kind == "merge":
        return landing.next_op(state, t)
    if risk_gate.wants_assessment(state, t):
        return Op(kind=OpKind.RISK)  # first: before a fast CI could open the merge gate
    if wants_ready(t):
        return Op(kind=OpKind.READY)
    if (
        landing_kind == "pr"
        and merge_gate(t, state.config)
        and t.ready_since + state.config.merge_delay <= state.now
    ):
        if reviewing.wants_pr_verdict(state, t):
            return Op(kind=OpKind.VERDICT)
        if reviewing.pr_approved(state, t):
            op = risk_gate.merge_step(state, t)
            if (
                op is not None
                and op.kind is OpKind.MERGE
                and path_classes.merging_held(state, tasks, t)
            ):
                return None
            return op
    return None


def _prepare_start(state: RunState, t: TaskState, stacked_on: str | None, base: str) -> TaskState:
    cfg = state.config
    # A mission working in a directory of its own has no branch.
    branch = "" if state.specs[t.id].cwd else f"{cfg.branch_prefix}/{cfg.project}/{t.id}"
    t = replace(t, branch=branch, base_branch=base, stacked_on=stacked_on, phase=Phase.ACTIVE)
    return take(_with(t, Op(kind=OpKind.START)), Op(kind=OpKind.START), "workspace")


def _emit(state: RunState, t: TaskState) -> tuple[TaskState, fx.Effect]:
    seq = t.effect_seq + 1
    effect_id = f"{t.id}/{seq}/{t.step}"
    effect = build_effect(state, t, effect_id)
    t = replace(t, effect_seq=seq, in_flight=effect_id)
    if t.step in ("workspace", "rebase"):
        t = replace(t, based_at=state.now)
    return t, effect


def build_effect(state: RunState, t: TaskState, effect_id: str) -> fx.Effect:
    op = t.current
    assert op is not None
    spec = state.specs[t.id]
    step = t.step
    base: _Ids = {"id": effect_id, "task": t.id}
    if step == "workspace":
        return fx.PrepareWorkspace(**base, branch=t.branch, base_branch=t.base_branch, cwd=spec.cwd)
    if step == "agent":
        group = group_of(state.config, t.worker) if t.worker else None
        merging = spec.landing == "merge"
        return fx.RunAgent(
            **base,
            agent=agent_of(state, t.id),
            worktree=t.worktree,
            base_sha=t.base_sha,
            session_id=t.session_id,
            turn=_turn(state, t, op),
            model=model_of(state, t.id),
            launch=launch_of(state, t.id),
            effort=group.effort if group else "",
            prompts=group.prompts if group else (),
            tickets=state.config.tickets_dir if merging else "",
            proposals=merging and swarm.may_propose(state, t),
        )
    if step == "verdict":
        return reviewing.reviewer_effect(state, t, effect_id)
    if step == "risk":
        return risk_gate.assess_effect(state, t, effect_id)
    if step == "sync":
        return fx.Rebase(
            **base,
            worktree=t.worktree,
            branch=t.branch,
            onto=state.config.main_branch,
            upstream=t.base_sha,
            by_merge=state.config.sync == "merge",
        )
    if step == "land":
        return fx.MergeToMain(
            **base,
            branch=t.branch,
            worktree=t.worktree,
            main=state.config.main_branch,
            title=pr_title(state, t.id),
            since=t.started_at,
        )
    if step == "push":
        return fx.Push(**base, branch=t.branch, worktree=t.worktree, force=bool(t.head_sha))
    if step == "open_pr":
        return fx.OpenPR(
            **base,
            branch=t.branch,
            base=t.base_branch,
            title=pr_title(state, t.id),
            body=_pr_body(state, t.id),
        )
    pr = t.pr.number if t.pr is not None else 0
    if step == "ready":
        return fx.MarkReady(**base, pr=pr)
    if step == "retarget":
        return fx.Retarget(**base, pr=pr, base=t.base_branch)
    if step == "resolve":
        reply = t.last_reply or "Addressed."
        return fx.ResolveThreads(**base, pr=pr, thread_ids=t.threads_answered, reply=reply)
    if step == "rebase":
        return fx.Rebase(
            **base, worktree=t.worktree, branch=t.branch, onto=op.onto, upstream=t.base_sha
        )
    if step == "merge":
        return fx.Merge(**base, pr=pr, branch=t.branch, title=pr_title(state, t.id))
    if step == "cleanup":
        # A task whose answer is its result keeps its branch: its commits are its work.
        keep = state.config.keep_worktrees or spec.landing == "none"
        return fx.Cleanup(**base, worktree=t.worktree, branch=t.branch, keep=keep)
    if step == "discard":
        return fx.Discard(**base, worktree=t.worktree, branch=t.branch, pr=pr)
    raise AssertionError(f"unknown step {step!r}")


def pr_title(state: RunState, task_id: str) -> str:
    return f"{task_id}: {state.specs[task_id].title}"


def _pr_body(state: RunState, task_id: str) -> str:
    spec = state.specs[task_id]
    deps = ", ".join(spec.depends_on) or "none"
    head = f"Task `{task_id}` of {state.title or state.config.project} (depends on: {deps})."
    return f"{head}\n\n{spec.description}".strip()


def _turn(state: RunState, t: TaskState, op: Op) -> fx.Turn:
    spec = state.specs[t.id]
    summary = ""
    if not t.session_id and t.turns:
        summary = (
            f"This is turn {t.turns + 1} on this task in a fresh session; earlier work is "
            f"committed on branch {t.branch}. Last reply: {t.last_reply or '(none)'}"
        )
    description = spec.description
    context = state.contexts.get(spec.plan, "") if spec.plan else state.context
    if context and op.kind is OpKind.START:
        description = f"{description}\n\n## Plan context\n\n{context}".strip()
    if spec.landing == "merge" and op.kind is OpKind.START:
        description = f"{description}\n\n{landing.worker_brief(state, t, spec)}".strip()
    kind = op.kind.value
    if t.nudged:
        kind = "nudge"
    elif t.interrupted and t.session_id:
        kind = "continue"  # the same session, cut short: carry on, don't start over
    elif t.resumes and spec.landing == "merge":
        kind = landing.turn_kind(state, t)
    return fx.Turn(
        kind=kind,
        title=spec.title,
        description=description,
        branch=t.branch,
        base_branch=t.base_branch,
        text=op.text,
        paths=op.paths,
        threads=op.threads,
        onto=op.onto,
        summary=summary,
        note=op.note,
        template=start_template(spec) if op.kind is OpKind.START else "",
        in_place=bool(spec.cwd),
    )
