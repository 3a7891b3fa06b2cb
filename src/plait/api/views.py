"""What every face shows, as plain JSON values computed from the project's state.

The API serves these, the CLI prints them, the TUI and the dashboard render them: one
definition of a task row, a task's detail and a project's summary, so the faces agree.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from plait.api.spending import budget_json, over_budget_word, spending
from plait.core.budget import OVER_BUDGET, task_limit, task_status, waiting_on_budget
from plait.core.missions import children
from plait.core.model import Overlap, Phase, RunState, TaskState, Usage
from plait.core.overlap import holders
from plait.core.progress import stuck_tasks, totals
from plait.core.task import DISPLAY_STATUSES, agent_of, attention_reason, model_of
from plait.core.taskmap import indexed_tasks
from plait.core.waiting import waiting_reason
from plait.engine.executor import WorkerInfo, held_by
from plait.errors import PlaitError, UsageError

Json = dict[str, Any]

# Statuses a task ends in: `plait wait` returns on these, `plait ps` leaves them out. A
# skipped task (closed with nothing to do) is as settled as a landed one: its dependents go on.
FINAL = frozenset({"merged", "done", "skipped"})
# ... and a mission that ended without success ("failed", with its agent's exit code).
ENDED = FINAL | {"failed"}
# Every status a task row can show: its display status, `over-budget` when a budget holds
# its next turn, and a team's `running` (see status_of). The README lists them all.
TASK_STATUSES = DISPLAY_STATUSES | {OVER_BUDGET, "running"}


def checked_statuses(text: str) -> list[str]:
    """The statuses of a comma-separated `--status` filter, each one a task can show; a
    mistyped one is an error naming the closest status, not a filter nothing matches."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    for word in words:
        if word not in TASK_STATUSES:
            close = difflib.get_close_matches(word.lower(), sorted(TASK_STATUSES), n=1)
            known = ", ".join(sorted(TASK_STATUSES))
            hint = f"did you mean {close[0]!r}? (statuses: {known})" if close else ""
            raise UsageError(f"no task status {word!r}", hint=hint or f"use one of: {known}")
    return words


# Statuses in which a task waits for a person (or has given up): nothing works on it, so
# its time stops where its work stopped, and runs again once a person lets it go on.
HELD = frozenset({"failed", "needs-attention", "stopped", OVER_BUDGET})


def _duration(state: RunState, t: TaskState, status: str, now: float) -> float:
    if not t.started_at:
        return 0.0
    end = t.finished_at or (_stopped_working_at(state, t) if status in HELD else 0.0) or now
    return max(0.0, end - t.started_at)


def _stopped_working_at(state: RunState, t: TaskState) -> float:
    """When a held task's work stopped: the end of its last agent turn — a team's, the
    latest of its members' — or 0 when it has none (its clock then keeps running)."""
    if state.specs[t.id].team:
        members = (state.tasks[m] for m in children(state.specs, state.order, t.id))
        return max((m.finished_at or _stopped_working_at(state, m) for m in members), default=0.0)
    return t.turn_ended_at if t.turn_ended_at >= t.started_at else 0.0


def status_of(state: RunState, t: TaskState) -> str:
    spec = state.specs[t.id]
    if spec.team and t.phase is not Phase.MERGED and not t.stopped:
        return _team_status(state, t.id)
    return task_status(state, t)


def _team_status(state: RunState, team: str) -> str:
    """A team is running while a member can still move; then it takes the word of its
    members' trouble (failed, needs-attention, stopped)."""
    members = children(state.specs, state.order, team)
    stuck = stuck_tasks(state)
    if any(state.tasks[m].phase is not Phase.MERGED and m not in stuck for m in members):
        return "running"
    words = {status_of(state, state.tasks[m]) for m in members}
    return next((w for w in ("failed", "needs-attention", "stopped") if w in words), "waiting")


def exit_code_of(state: RunState, t: TaskState) -> int | None:
    """A mission's exit code as `plait wait` returns it: its agent's (1 when it failed
    without one, a stall say); for a team, its first failed member's."""
    spec = state.specs[t.id]
    if spec.team:
        for member in children(state.specs, state.order, t.id):
            m = state.tasks[member]
            if status_of(state, m) == "failed":
                return exit_code_of(state, m) or 1
        return 0 if t.phase is Phase.MERGED else None
    if t.failed:
        return t.exit_code or 1
    return t.exit_code


def indexed(state: RunState) -> RunState:
    """The state with its task index built, so project-wide facts (the budget) cost O(1)
    per row: do this once before rendering many rows of a state read from the store."""
    return replace(state, tasks=indexed_tasks(state))


def _overlaps_json(overlaps: tuple[Overlap, ...]) -> list[Json]:
    return [
        {"with": o.task or "main", "main": not o.task, "paths": list(o.paths)} for o in overlaps
    ]


def task_row(
    state: RunState,
    t: TaskState,
    *,
    now: float | None = None,
    live: Usage | None = None,
    runs_on: str | None = None,
) -> Json:
    """One line of `plait ps` / the task list (the summary's rows are the same). A running
    engine passes the clock, what the turn under way has used so far and where it runs
    (`local`, a worker's name, or `waiting` for a worker)."""
    spec = state.specs[t.id]
    pr = t.pr
    usage = t.usage + live if live is not None else t.usage
    status = status_of(state, t)
    return {
        "id": t.id,
        "title": spec.title,
        "status": status,
        "agent": agent_of(state, t.id),
        "model": model_of(state, t.id) or None,
        "landing": spec.landing,
        "plan": spec.plan or None,
        "origin": spec.origin or None,
        "pr": pr.number if pr else None,
        "pr_url": (pr.url or None) if pr else None,
        "branch": t.branch or None,
        "base": t.base_branch if t.stacked_on else None,
        "queue": [op.kind.value for op in t.queue],
        "turns": t.turns,
        "tokens": usage.total_tokens,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": round(usage.cost_usd, 6),
        "duration_s": round(_duration(state, t, status, max(state.now, now or 0.0)), 2),
        "merge_sha": t.merge_sha or None,
        "ci_failures": t.counters.ci_failures,
        "attention": attention_reason(t, state.config) or None,
        "stopped": t.stopped or None,
        "depends_on": list(spec.depends_on),
        "name": spec.name or None,
        "parent": spec.parent or None,
        "mission": spec.restart is not None,
        "team": spec.team,
        "exit_code": exit_code_of(state, t),
        "restarts": len(t.restarts),
        "budget": budget_json(task_limit(state, t)),
        "over_budget": waiting_on_budget(state, t) or None,
        "waits_for": waiting_reason(state, t) or _placed(state, t, runs_on) or None,
        "risk": t.risk or None,  # the PR head's tier (plait.core.risk_gate)
        "risk_reason": t.risk_reason or None,
        "overlaps": _overlaps_json(t.overlaps),
        "runs_on": runs_on,
    }


def _placed(state: RunState, t: TaskState, runs_on: str | None) -> str:
    """What a turn sent to `plait worker`s waits for: Temporal lost, or a worker to take
    it (none with its agent runs, or they are all busy), rather than a silent `working`."""
    if runs_on == "waiting":
        agent = agent_of(state, t.id)
        return (
            f"a plait worker with the {agent} agent to take its turn "
            f"(`plait workers` lists them; `plait worker … --agents {agent}` starts one)"
        )
    return held_by(runs_on)


def task_detail(
    state: RunState,
    t: TaskState,
    *,
    now: float | None = None,
    live: Usage | None = None,
    runs_on: str | None = None,
) -> Json:
    """Everything about one task: the row, and where its work is and what it waits for."""
    spec = state.specs[t.id]
    pr = t.pr
    return {
        **task_row(state, t, now=now, live=live, runs_on=runs_on),
        "description": spec.description,
        "class": spec.task_class,
        "path_classes": list(t.path_classes),
        "worktree": t.worktree or None,
        "base_branch": t.base_branch or None,
        "stacked_on": t.stacked_on,
        "session_id": t.session_id or None,
        "current": t.current.kind.value if t.current else None,
        "step": t.step or None,
        "in_flight": t.in_flight or None,
        "retry_at": t.retry_at or None,
        "last_error": t.last_error or None,
        "answer": t.last_reply or None,
        "checks": (
            {"ci": pr.ci.value, "evidence": pr.ci_evidence or None, "mergeable": pr.mergeable}
            if pr
            else None
        ),
        "threads": [
            {"id": th.id, "author": th.author, "path": th.path, "line": th.line, "body": th.body}
            for th in (pr.threads if pr else ())
        ],
        "pr_state": pr.state if pr else None,
        "pr_base": pr.base if pr else None,
        "pr_draft": pr.draft if pr else None,
        "files": list(spec.files),
        "held_by": _held_by(state, t),
        "counters": {
            "ci_failures": t.counters.ci_failures,
            "start_failures": t.counters.start_failures,
            "turn_failures": t.counters.turn_failures,
            "rebase_failures": t.counters.rebase_failures,
            "push_failures": t.counters.push_failures,
            "merge_failures": t.counters.merge_failures,
            "login_failures": t.counters.login_failures,
            "risk_failures": t.counters.risk_failures,
        },
    }


def dependency_graph(state: RunState) -> Json:
    """Every task with what it waits for and what its branch is based on, in plan order:
    the dependency-graph view of the faces."""
    nodes = []
    for tid in state.order:
        t, spec = state.tasks[tid], state.specs[tid]
        nodes.append(
            {
                "id": tid,
                "title": spec.title,
                "status": status_of(state, t),
                "plan": spec.plan or None,
                "depends_on": list(spec.depends_on),
                "stacked_on": t.stacked_on,
                "base": t.base_branch or None,
                "pr": t.pr.number if t.pr else None,
            }
        )
    return {"tasks": nodes}


def _held_by(state: RunState, t: TaskState) -> list[str]:
    """Tasks under way whose declared files overlap this waiting task's (the hint)."""
    if t.phase is not Phase.WAITING or not state.config.hold_overlapping:
        return []
    return list(holders(state, t.id, state.order, state.tasks))


def task_result(state: RunState, t: TaskState) -> Json:
    """What `plait result` prints: the agent's final answer and how the work landed."""
    pr = t.pr
    spec = state.specs[t.id]
    return {
        "id": t.id,
        "name": spec.name or None,
        "status": status_of(state, t),
        "answer": t.last_reply or None,
        "exit_code": exit_code_of(state, t),
        "error": t.failed or t.last_error or None,
        "merge_sha": t.merge_sha or None,
        "pr": pr.number if pr else None,
        "pr_url": (pr.url or None) if pr else None,
        "landing": spec.landing,
        # A task whose answer is its result keeps its branch, with whatever it committed.
        "branch": (t.branch or None) if spec.landing == "none" and not spec.cwd else None,
        "parent": spec.parent or None,
        "children": children(state.specs, state.order, t.id),
        "turns": t.turns,
        "restarts": len(t.restarts),
        "tokens": t.usage.total_tokens,
        "cost_usd": round(t.usage.cost_usd, 6),
        "session_id": t.session_id or None,
    }


def project_outcome(state: RunState, *, stopped: bool = False) -> str:
    """merged (all landed), stopped, needs-attention or running."""
    if all(t.phase is Phase.MERGED for t in state.tasks.values()):
        return "merged"
    if stopped:
        return "stopped"
    if any(_needs_person(state, t) for t in state.tasks.values()):
        return "needs-attention"
    return "running"


def _needs_person(state: RunState, t: TaskState) -> bool:
    return bool(attention_reason(t, state.config) or t.stopped or waiting_on_budget(state, t))


def project_summary(
    state: RunState, *, engine: bool, live: Mapping[str, Usage] | None = None
) -> Json:
    """A project at a glance, for `plait projects` and the faces' headers. A running
    engine passes what the turns under way have used so far."""
    state = indexed(state)
    tot = totals(state)
    counts: dict[str, int] = {}
    for t in state.tasks.values():
        word = status_of(state, t)
        counts[word] = counts.get(word, 0) + 1
    stuck = stuck_tasks(state)
    busy = any(
        t.phase is Phase.ACTIVE or t.in_flight for tid, t in state.tasks.items() if tid not in stuck
    )
    waiting = any(t.phase is Phase.WAITING for tid, t in state.tasks.items() if tid not in stuck)
    if not state.tasks:
        word = "idle"
    elif any(_needs_person(state, t) for t in state.tasks.values()):
        word = over_budget_word(state) or "needs-attention"
    elif busy or waiting:
        word = "running" if engine else "paused"
    elif engine:
        word = "idle"
    else:
        word = "done"
    return {
        "project": state.config.project,
        "state": word,
        "engine": engine,
        "tasks": tot.tasks,
        "landed": tot.merged,
        "counts": counts,
        "turns": tot.turns,
        **spending(state, live or {}),
        "forge": state.config.forge,
        "agent": state.config.agent,
        "repo": state.config.repo,
        "settings": {
            "main": state.config.main_branch,
            "max_concurrency": state.config.max_concurrency,
            "class_caps": dict(state.config.class_caps),
            "agent_caps": dict(state.config.agent_caps),
            "class_agents": dict(state.config.class_agents),
            "merge_delay": state.config.merge_delay,
            "cooldown": state.config.cooldown_seconds,
        },
    }


def workers_view(
    executor: str, workers: Sequence[WorkerInfo], *, now: float, problem: PlaitError | None = None
) -> Json:
    """What `plait workers` and `/api/workers` show: where turns run, and the workers;
    `problem` when the executor cannot say (a Temporal server out of reach)."""
    view: Json = {
        "executor": executor,
        "workers": [
            {**w.to_json(), "seconds_since_heartbeat": round(max(0.0, now - w.last_heartbeat), 1)}
            for w in workers
        ],
    }
    if problem is not None:
        view["problem"] = {"error": problem.message, "hint": problem.hint}
    return view


def workers_line(view: Json) -> tuple[str, bool] | None:
    """`workers_view` as one line for a face's header, and whether it is a problem; None
    when turns run here (no workers to show). The dashboard says the same in app.js."""
    executor = str(view.get("executor") or "local")
    if executor == "local":
        return None
    problem = view.get("problem")
    if isinstance(problem, dict):
        hint = f" — {problem['hint']}" if problem.get("hint") else ""
        return f"turns on {executor}: {problem.get('error')}{hint}", True
    rows = [w for w in view.get("workers") or [] if isinstance(w, dict)]
    if not rows:
        return f"turns on {executor}: no workers — start one with `plait worker`", False
    states: dict[str, int] = {}
    slots = busy = 0
    for w in rows:
        states[str(w["state"])] = states.get(str(w["state"]), 0) + 1
        if w["state"] == "running":
            slots += int(w["slots"])
            busy += int(w["busy"])
    counted = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    names = " · ".join(
        f"{w['name']}@{w['host']} ({w['state']}, {w['busy']}/{w['slots']})" for w in rows
    )
    noun = "worker" if len(rows) == 1 else "workers"
    return (
        f"turns on {executor}: {len(rows)} {noun} ({counted}), {busy}/{slots} slots busy — {names}",
        False,
    )
