"""Why a task that could start waits: the cap, cool-down or dependency that holds it.

Derived, never stored: `plait ps`, the API and the dashboard show it next to `waiting`,
so a burst of issues under a cap says what each one waits for. It mirrors the checks of
`scheduler._Slots.free_for`, in the same order, from the counts of turns under way.
"""

from __future__ import annotations

from collections import Counter

from plait.core import path_classes, reviewing, risk_gate
from plait.core.budget import waiting_on_budget
from plait.core.cooldown import cooling
from plait.core.model import CIStatus, Phase, RunState, TaskState
from plait.core.scheduler import holds_slot, prepared_ahead, slot_agent
from plait.core.task import (
    agent_of,
    merge_gate,
    needs_attention,
    pr_is_current,
    waits_for_agent_slot,
)
from plait.core.taskmap import live_tasks


def waiting_reason(state: RunState, t: TaskState) -> str:
    """What holds a waiting task back ("" for a task that is not waiting, or not held).
    A started task shows what holds its next turn or its merge: a class cap, the risk
    gate."""
    if t.phase is Phase.ACTIVE and not (t.stopped or t.failed):
        return _active(state, t)
    if t.phase is not Phase.WAITING or t.stopped or t.failed or t.carried_by:
        return ""
    spec = state.specs[t.id]
    # A dependency under way holds it too (a stopped one for good): not only one that
    # has not started.
    open_deps = [d for d in spec.depends_on if state.tasks[d].phase is not Phase.MERGED]
    if open_deps:
        return f"after {', '.join(_dependency(state, d) for d in open_deps)}"
    return _slots(state, t)


def _slots(state: RunState, t: TaskState) -> str:
    """The cap, cool-down or budget that keeps a start's agent from its slot."""
    spec = state.specs[t.id]
    cfg = state.config
    # A task under way is live: the index names them without a scan of every task for
    # each row a face shows (P8).
    busy = [o for o in live_tasks(state) if holds_slot(state, o)]
    if len(busy) >= cfg.max_concurrency:
        return f"{len(busy)} of {cfg.max_concurrency} agent slots busy (max_concurrency)"
    cls = spec.task_class
    if cls and cls in cfg.class_caps:
        same = sum(1 for o in busy if state.specs[o.id].task_class == cls)
        if same >= cfg.class_caps[cls]:
            return f"class {cls} at its cap ({same} of {cfg.class_caps[cls]} running)"
    agent = agent_of(state, t.id)
    if cooling(state.cooldowns, agent, state.now):
        return f"agent {agent} cooling down after a limit"
    if agent in cfg.agent_caps:
        per_agent = Counter(slot_agent(state, o) for o in busy)
        if per_agent[agent] >= cfg.agent_caps[agent]:
            return f"agent {agent} at its cap ({per_agent[agent]} of {cfg.agent_caps[agent]})"
    return waiting_on_budget(state, t)


def _active(state: RunState, t: TaskState) -> str:
    if prepared_ahead(state, t) and waits_for_agent_slot(t):
        return _slots(state, t)  # its worktree made ahead, its agent waits for a slot
    if (
        t.retry_at > state.now
        and t.last_error
        and not t.in_flight
        and not needs_attention(t, state.config)
    ):
        # A step that failed or was held (a dirty main checkout) waits to be tried again.
        return f"{t.last_error} (tries again in {t.retry_at - state.now:.0f}s)"
    why = path_classes.active_reason(state, t)
    if why:
        return why
    if not merge_gate(t, state.config):
        return _no_check(state, t)
    if not reviewing.pr_approved(state, t):
        return ""
    held = risk_gate.holding(state, t)
    if held or not t.path_classes:
        return held
    return path_classes.merge_reason(state, t)


def _no_check(state: RunState, t: TaskState) -> str:
    """A GitHub PR whose head no check has reported on: plait merges once its checks pass,
    and a repository without CI never reports one, so say so rather than a bare `ci`."""
    pr = t.pr
    if state.config.forge != "github" or pr is None or t.current is not None or t.queue:
        return ""
    if pr.ci is not CIStatus.NONE or not pr_is_current(t):
        return ""
    return (
        f"no CI check has reported on {t.head_sha[:7]}: plait merges a GitHub PR once its "
        "checks pass, and a repository without CI (no GitHub Actions workflow or other "
        "check) never reports one"
    )


def _dependency(state: RunState, dep: str) -> str:
    """A dependency named as it stands: one that stopped for good is said to be so, as the
    tasks under it will not move until a person retries or resets it."""
    d = state.tasks[dep]
    if d.stopped:
        return f"{dep} (stopped)"
    if needs_attention(d, state.config):
        return f"{dep} (needs attention)"
    return dep
