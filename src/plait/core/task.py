"""One task's operation queue and the facts derived from its state.

The queue holds at most one operation per (kind, key); some kinds coalesce (a newer rebase
or CI failure replaces the older one, review threads merge into one batch), human messages
never do. Operations are served one at a time in `FEEDBACK_PRIORITY` order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.core.model import (
    FEEDBACK_PRIORITY,
    CIStatus,
    Counters,
    Op,
    OpKind,
    Phase,
    RunConfig,
    RunState,
    TaskState,
    WorkerGroup,
)

if TYPE_CHECKING:  # mypy checks each field's type through its dataclasses plugin
    from dataclasses import replace
else:  # the same copy, about twice as fast (P2)
    from plait.core.copying import replace

# Kinds where a newer op replaces a queued older one.
_REPLACING = frozenset({OpKind.REBASE, OpKind.CI, OpKind.CONFLICT})


def enqueue(task: TaskState, op: Op) -> TaskState:
    queue = list(task.queue)
    if any(q.kind is op.kind and q.key == op.key for q in queue):
        return task
    if op.kind in _REPLACING:
        queue = [q for q in queue if q.kind is not op.kind]
    elif op.kind is OpKind.REVIEW:
        for i, q in enumerate(queue):
            if q.kind is OpKind.REVIEW:
                known = {t.id for t in q.threads}
                merged = q.threads + tuple(t for t in op.threads if t.id not in known)
                queue[i] = replace(q, key=_threads_key(merged), threads=merged)
                return replace(task, queue=tuple(queue))
    queue.append(op)
    return replace(task, queue=tuple(queue))


def _threads_key(threads: tuple[object, ...]) -> str:
    return ",".join(sorted(getattr(t, "id", "") for t in threads))


def next_op(task: TaskState) -> Op | None:
    """The queued operation to serve next: highest priority, oldest first."""
    best: Op | None = None
    best_rank = len(FEEDBACK_PRIORITY)
    for op in task.queue:
        rank = FEEDBACK_PRIORITY.index(op.kind) if op.kind in FEEDBACK_PRIORITY else best_rank
        if best is None or rank < best_rank:
            best, best_rank = op, rank
    return best


def take(task: TaskState, op: Op, first_step: str) -> TaskState:
    queue = list(task.queue)
    queue.remove(op)
    return replace(task, queue=tuple(queue), current=op, step=first_step)


def attention_reason(task: TaskState, config: RunConfig) -> str:
    """Why the task needs a human, or "" when it does not. Derived, never stored."""
    if task.phase is Phase.MERGED:
        return ""
    if task.failed:
        return f"failed: {task.failed}"
    if task.pr is not None and task.pr.state == "closed":
        return f"PR #{task.pr.number} was closed on the forge"
    why = _limit_reached(task, config)
    if not why:
        return ""
    return f"{why}: {task.last_error}" if task.last_error else why


def _limit_reached(task: TaskState, config: RunConfig) -> str:
    """The first failure limit the task reached, or "". Each message is formatted only
    when its limit is hit: this runs for every live task on every event (P2)."""
    c = task.counters
    cap = config.failure_cap
    if c.login_failures > 0:
        return "the agent CLI is not logged in or lacks permission"
    if c.ci_failures >= config.ci_failure_cap:
        return f"CI failed {c.ci_failures} times"
    if c.start_failures >= cap:
        return f"agent failed to start the task {c.start_failures} times"
    if c.turn_failures >= cap:
        return f"agent turns failed {c.turn_failures} times"
    if c.rebase_failures >= cap:
        return f"rebase failed {c.rebase_failures} times"
    if c.push_failures >= cap:
        return f"push failed {c.push_failures} times"
    if c.merge_failures >= cap:
        return f"merge failed {c.merge_failures} times"
    if c.risk_failures >= cap:
        return f"risk assessment failed {c.risk_failures} times"
    if c.review_failures >= cap * max(1, len(config.review.reviewers)):
        return f"reviewers gave no verdict {c.review_failures} times"
    if task.verdict == "needs_changes" and task.review_rounds > config.review.rounds:
        return f"the reviewer asked for changes {task.review_rounds} times"
    if c.returns >= cap:
        return f"went back to the queue {c.returns} times"
    return ""


def needs_attention(task: TaskState, config: RunConfig) -> bool:
    return bool(attention_reason(task, config))


def pr_is_current(task: TaskState) -> bool:
    return task.pr is not None and task.pr.state == "open" and task.pr.head_sha == task.head_sha


def wants_ready(task: TaskState) -> bool:
    pr = task.pr
    return pr_is_current(task) and pr is not None and pr.draft and pr.ci is CIStatus.PASSED


def merge_gate(task: TaskState, config: RunConfig) -> bool:
    """CI green on the pushed head, no unresolved thread, base is main, not a draft."""
    pr = task.pr
    return (
        task.phase is Phase.ACTIVE
        and task.current is None
        and not task.queue
        and pr is not None
        and pr_is_current(task)
        and not pr.draft
        and pr.ci is CIStatus.PASSED
        and not pr.threads
        and pr.base == config.main_branch
        and task.base_branch == config.main_branch
        and pr.mergeable is True
    )


def turn_pending(task: TaskState) -> bool:
    """The task's next step is its agent's turn and no turn is in flight (it waits for a
    slot, or for a failed turn's retry time)."""
    return task.step == "agent" and not task.in_flight


def waits_for_agent_slot(task: TaskState) -> bool:
    """A start's agent waits for its slot: its worktree is made (ahead, see
    `RunConfig.prepare_ahead`) and its turn is pending, not held back by a retry wait."""
    return turn_pending(task) and not task.retry_at


def _before_agent(task: TaskState) -> bool:
    """A start whose agent has not begun: its worktree is being made, or was made ahead
    and waits for an agent slot."""
    return task.step == "workspace" or waits_for_agent_slot(task)


# The status word of a task busy with an op of each kind (START and LAND: by its step),
# made once rather than per call: the timeline asks it for every narrated event (P2).
_OP_WORDS = {
    OpKind.REBASE: "rebasing",
    OpKind.MERGE: "merging",
    OpKind.READY: "pushing",
    OpKind.CLEANUP: "merged",
    OpKind.VERDICT: "reviewing",
    OpKind.RISK: "assessing-risk",
}


# The agent turns that fix something, shown as `fixing-<kind>` (see display_status).
_FIXING = tuple(
    k for k in OpKind if k not in _OP_WORDS and k not in (OpKind.START, OpKind.LAND, OpKind.DISCARD)
)

# Every word display_status can return: what `plait ps --status` accepts (with a task's
# `over-budget` and a team's `running`, see plait.api.views.TASK_STATUSES). A test reads
# display_status's return statements to keep this list whole.
DISPLAY_STATUSES: frozenset[str] = frozenset(
    {
        "skipped", "done", "merged", "carried", "returning", "resetting", "stopped", "failed",
        "needs-attention", "waiting", "starting", "working", "syncing", "merging", "queued",
        "approved", "in-review", "ci", "ci-failed", "stacked", "conflicting",
        *_OP_WORDS.values(),
        *(f"fixing-{k.value}" for k in _FIXING),
    }
)  # fmt: skip


def display_status(task: TaskState, config: RunConfig, *, landing: str = "pr") -> str:
    """A short word for humans: what the task is doing or waiting for."""
    if task.phase is Phase.MERGED:
        if task.skipped:
            return "skipped"
        return "done" if landing == "none" else "merged"
    if task.carried_by and task.phase is Phase.WAITING:
        return "carried"  # done in another task's change
    if task.current is not None and task.current.kind is OpKind.DISCARD:
        return "returning" if task.worker == "" and task.counters.returns else "resetting"
    if task.stopped:
        return "stopped"
    if task.failed:
        return "failed"
    if needs_attention(task, config):
        return "needs-attention"
    if task.phase is Phase.WAITING:
        return "waiting"
    if task.current is not None:
        kind = task.current.kind
        if kind is OpKind.START:
            return "starting" if _before_agent(task) else "working"
        if kind is OpKind.LAND:
            return "syncing" if task.step == "sync" else "merging"
        word = _OP_WORDS.get(kind)
        return f"fixing-{kind.value}" if word is None else word
    if task.queue:
        return "queued"
    pr = task.pr
    if pr is None and landing == "merge":
        return "approved" if task.verdict == "approved" else "in-review"
    if pr is None:
        return "working"
    if pr.ci is CIStatus.PENDING or pr.ci is CIStatus.NONE or not pr_is_current(task):
        return "ci"
    if pr.ci is CIStatus.FAILED:
        return "ci-failed"
    if pr.threads:
        return "in-review"
    if task.base_branch != config.main_branch:
        return "stacked"
    return "approved" if pr.mergeable is not False else "conflicting"


def agent_of(state: RunState, task_id: str) -> str:
    """The backend that runs the task: its own, its worker group's, its class's, else the
    project's."""
    spec = state.specs[task_id]
    if spec.agent:
        return spec.agent
    cfg = state.config
    group = group_of(cfg, state.tasks[task_id].worker) if cfg.workers else None
    if group is not None and group.agent:
        return group.agent
    return cfg.class_agents.get(spec.task_class or "", "") or cfg.agent


def model_of(state: RunState, task_id: str) -> str:
    """The model the task asks for ("" for the backend's own default)."""
    spec = state.specs[task_id]
    if spec.model:
        return spec.model
    cfg = state.config
    group = group_of(cfg, state.tasks[task_id].worker) if cfg.workers else None
    if group is not None and group.model:
        return group.model
    return cfg.class_models.get(spec.task_class or "", "")


def group_of(config: RunConfig, worker: str) -> WorkerGroup | None:
    """The group of a worker named `<group>/<n>` (None: no worker, or a group gone)."""
    if not worker:
        return None
    name = worker.rpartition("/")[0]
    return next((g for g in config.workers if g.name == name), None)


def fresh(task: TaskState) -> TaskState:
    """A task started over (`plait reset --hard`, or a claim returned to the queue). What
    it cost so far stays counted, its run log and a reviewer's notes stay, and its effect
    counter goes on, so no new effect reuses an old effect's id."""
    return TaskState(
        id=task.id,
        effect_seq=task.effect_seq,
        usage=task.usage,
        turns=task.turns,
        agent_seconds=task.agent_seconds,
        counters=Counters(returns=task.counters.returns),
        notes=task.notes,
        log=task.log,
        budget=task.budget,
    )
