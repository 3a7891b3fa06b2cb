"""People's commands on a project, checked against its state and turned into core events.

Pure: the state in, the event to decide (or a `CommandError` saying why not) out. The API
server decides the event in the running engine; with no engine running the CLI records it
in the project's inbox for the next engine. Either way the same checks run first, so a
command that cannot apply (send to a merged task, reset an unknown one) is refused with
the same words.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plait.core import events as ev
from plait.core.budget import OVER_BUDGET, project_over, task_over, task_status, wants_turn
from plait.core.controller import stacked_children
from plait.core.graph import has_cycle
from plait.core.missions import subtree
from plait.core.model import OpKind, Phase, RunState
from plait.core.plan import (
    LANDINGS,
    TASK_CLASSES,
    Plan,
    TaskSpec,
    is_valid_task_id,
    slugify,
    unique_name,
)
from plait.core.task import attention_reason, display_status, needs_attention
from plait.errors import PlaitError
from plait.forges.base import PRInfo
from plait.plans.adding import tasks_to_add
from plait.plans.characters import describe, text_characters


class CommandError(PlaitError):
    """A command that does not apply to the project as it is. `status` is its HTTP code."""

    exit_code = 2
    status = 409


class TaskNotFound(CommandError):
    status = 404


class BadRequest(CommandError):
    status = 400


@dataclass(frozen=True, slots=True)
class Command:
    event: ev.Event
    task: str  # the task it is about ("" when several)
    done: str  # what happened, once decided ("stopped 3; its work is kept")
    tasks: tuple[str, ...] = ()  # tasks it added


# ---- naming tasks ---------------------------------------------------------------------------
def resolve_task(state: RunState, ref: str) -> str:
    """A task by id, by its name (a mission's), by the id a plan gave it (`1` for
    `billing.1`, when unique) or by a unique prefix of its title (case-insensitive)."""
    if ref in state.specs:
        return ref
    by_name = [tid for tid in state.order if state.specs[tid].name == ref]
    if len(by_name) == 1:
        return by_name[0]
    by_local = [tid for tid in state.order if tid.endswith(f".{ref}")]
    if len(by_local) == 1:
        return by_local[0]
    low = ref.strip().lower()
    by_title = [
        tid for tid in state.order if low and state.specs[tid].title.lower().startswith(low)
    ]
    if len(by_title) == 1:
        return by_title[0]
    candidates = by_local or by_title
    if candidates:
        shown = ", ".join(f"{tid} ({state.specs[tid].title[:30]})" for tid in candidates[:8])
        raise CommandError(f"{ref!r} matches several tasks: {shown}", hint="give the task's id")
    known = ", ".join(state.order[:12]) + (" …" if len(state.order) > 12 else "")
    raise TaskNotFound(
        f"project {state.config.project!r} has no task {ref!r}",
        hint=f"known tasks: {known}" if state.order else 'add one with `plait add "title"`',
    )


def _live_task(state: RunState, ref: str, verb: str) -> str:
    tid = resolve_task(state, ref)
    t = state.tasks[tid]
    if t.phase is Phase.MERGED:
        word = "done" if state.specs[tid].landing == "none" else "merged"
        raise CommandError(
            f"task {tid} is {word}; there is nothing to {verb}",
            hint="start follow-up work with `plait add`",
        )
    return tid


# ---- commands -------------------------------------------------------------------------------
def kill(
    state: RunState, ref: str, *, now: float, reason: str = "", cascade: bool = False
) -> Command:
    tid = _live_task(state, ref, "stop")
    # A team runs nothing of its own: stopping it means stopping its members.
    cascade = cascade or state.specs[tid].team
    targets = subtree(state, tid) if cascade else (tid,)
    live = [t for t in targets if state.tasks[t].phase is not Phase.MERGED]
    if all(state.tasks[t].stopped for t in live):
        raise CommandError(f"task {tid} is already stopped", hint=f"`plait retry {tid}` resumes it")
    why = reason or "stopped by `plait kill`"
    event = ev.TaskKilled(at=now, task=tid, reason=why, cascade=cascade)
    if len(live) > 1:
        return Command(event, tid, f"stopped {tid} and {len(live) - 1} mission(s) under it")
    if state.tasks[tid].phase is Phase.WAITING:  # never started: no work, no worktree yet
        return Command(event, tid, f"stopped {tid}; it does not start until `plait retry {tid}`")
    return Command(event, tid, f"stopped {tid}; its work and worktree are kept")


def retry(state: RunState, ref: str, *, now: float, cascade: bool = False) -> Command:
    tid = _live_task(state, ref, "retry")
    cascade = cascade or state.specs[tid].team
    t = state.tasks[tid]
    held = t.stopped or t.failed or t.restarts or t.retry_at > state.now
    budget = _budget_hold(state, tid)
    if not cascade and not held and not attention_reason(t, state.config):
        # A retry clears a stop, a failure, a wait or the counters: this task has none.
        status = task_status(state, t)
        blocker = _held_dependency(state, tid)
        if budget and status == OVER_BUDGET:
            hint = budget
        elif blocker:
            word = display_status(state.tasks[blocker], state.config,
                                  landing=state.specs[blocker].landing)  # fmt: skip
            hint = (
                f"it waits for {blocker}, which is {word}: `plait retry {blocker}` (or "
                f"`plait reset {blocker}`) lets it move"
            )
        else:
            hint = (
                f"`plait kill {tid}` stops it, `plait reset {tid}` starts its work over, "
                f'`plait send {tid} "…"` tells its agent something'
            )
        raise CommandError(f"task {tid} is {status}; there is nothing to retry", hint=hint)
    done = f"{tid} goes again once its budget allows: {budget}" if budget else f"{tid} goes again"
    return Command(ev.TaskRetried(at=now, task=tid, cascade=cascade), tid, done)


def _budget_hold(state: RunState, tid: str) -> str:
    """The budget that keeps `tid` from a new agent turn, with how to raise it ("" when
    none does): a retry clears a stop or a failure, never a reached budget."""
    t = state.tasks[tid]
    if not wants_turn(t):
        return ""  # its next step is git's or the forge's: a budget never holds those
    own = task_over(state, t)
    if own:
        return f"{own} — raise it with `plait budget --task {tid} --tokens N` (or --dollars D)"
    project = project_over(state)
    if project:
        return f"{project} — raise it with `plait budget --tokens N` (or --dollars D)"
    return ""


def _held_dependency(state: RunState, tid: str) -> str:
    """The dependency, direct or further up, that holds `tid` until a person acts on it
    (stopped, failed or needing attention; "" when none)."""
    if state.tasks[tid].phase is not Phase.WAITING:
        return ""
    seen: set[str] = set()
    todo = list(state.specs[tid].depends_on)
    while todo:
        dep = todo.pop(0)
        d = state.tasks.get(dep)
        if dep in seen or d is None or d.phase is Phase.MERGED:
            continue
        seen.add(dep)
        if d.stopped or d.failed or attention_reason(d, state.config):
            return dep
        todo.extend(state.specs[dep].depends_on)
    return ""


def reset(state: RunState, ref: str, *, now: float, hard: bool = False) -> Command:
    tid = _live_task(state, ref, "reset")
    if hard:
        children = stacked_children(state, tid)
        if children:
            raise CommandError(
                f"task {tid}'s branch is the base of {', '.join(children)}",
                hint=f"reset {', '.join(children)} with --hard first, or reset {tid} without it",
            )
    event = ev.TaskReset(at=now, task=tid, hard=hard)
    if hard:
        return Command(event, tid, f"{tid} starts over from {state.config.main_branch}")
    return Command(event, tid, f"{tid}'s counters are cleared; it goes again from its branch")


def send(state: RunState, ref: str, text: str, *, now: float) -> Command:
    tid = _live_task(state, ref, "send a message to")
    _plain(text, "message")
    if not text.strip():
        raise BadRequest("the message is empty", hint='say something: plait send TASK "…"')
    event = ev.HumanMessage(at=now, task=tid, text=text, message_id=f"m-{uuid.uuid4().hex[:12]}")
    return Command(event, tid, f"message delivered to {tid}'s agent")


# Steps that carry an approved change to main: no agent is at work any more.
_LANDING_OPS = frozenset({OpKind.MERGE, OpKind.LAND, OpKind.CLEANUP})


def not_at_work(state: RunState, tid: str) -> str:
    """Why a broadcast passes a started task by ("" when its agent is at work). A message
    starts an agent turn, and a new commit costs an approved change its approval: a
    broadcast is for agents at work, not for changes on their way to main, nor for a
    failed mission or a task that waits for a person: a message clears its failure and
    would start a turn nobody asked for (`plait send` still reaches one on purpose)."""
    t = state.tasks[tid]
    if t.stopped:
        return "stopped"
    if t.failed:
        return "failed"
    if needs_attention(t, state.config):
        return "needs attention"
    if t.current is not None and t.current.kind in _LANDING_OPS:
        return "merging"
    status = display_status(t, state.config, landing=state.specs[tid].landing)
    if t.verdict == "approved" or status == "approved":
        return "approved, waiting to merge"
    return ""


@dataclass(frozen=True, slots=True)
class Broadcast:
    commands: tuple[Command, ...]  # one message per task at work
    skipped: tuple[tuple[str, str], ...]  # (task, why) for the started tasks passed by

    @property
    def tasks(self) -> list[str]:
        return [c.task for c in self.commands]

    def done(self) -> str:
        n = len(self.commands)
        said = f"message delivered to {n} working task{'s' if n != 1 else ''}: "
        said += ", ".join(self.tasks)
        if self.skipped:
            said += "; not disturbed: " + ", ".join(f"{t} ({why})" for t, why in self.skipped)
        return said

    def skipped_json(self) -> list[dict[str, str]]:
        return [{"id": t, "why": why} for t, why in self.skipped]


def broadcast(state: RunState, text: str, *, now: float) -> Broadcast:
    """One message to every working task's agent (each its own `HumanMessage`); the
    started tasks whose agents are not at work (see `not_at_work`) are passed by."""
    _plain(text, "message")
    if not text.strip():
        raise BadRequest("the message is empty", hint="say something to the agents")
    started = [tid for tid in state.order if state.tasks[tid].phase is Phase.ACTIVE]
    why = {tid: not_at_work(state, tid) for tid in started}
    ids = [tid for tid in started if not why[tid]]
    skipped = tuple((tid, why[tid]) for tid in started if why[tid])
    if not ids:
        passed = "; ".join(f"{t} is {w}" for t, w in skipped)
        raise CommandError(
            "no task is working: there is no agent to tell" + (f" ({passed})" if passed else ""),
            hint="`plait ps` shows what the tasks are doing; `plait send TASK` reaches one",
        )
    return Broadcast(tuple(send(state, tid, text, now=now) for tid in ids), skipped)


def add_plan(state: RunState, plan: Plan, *, now: float) -> Command:
    addition = tasks_to_add(plan, state.specs)
    _check_graph(state, addition.tasks)
    event = ev.TasksAdded(at=now, tasks=addition.tasks, plan=plan.name, context=plan.context)
    ids = tuple(t.id for t in addition.tasks)
    if not ids:
        done = f"plan {plan.name!r} is already in the project: nothing to add"
    else:
        done = f"added {len(ids)} task{'s' if len(ids) != 1 else ''} of plan {plan.name!r}"
    return Command(event, "", done, tasks=(*addition.known, *ids))


def _check_graph(state: RunState, tasks: tuple[TaskSpec, ...]) -> None:
    """What the core would refuse as a whole (it ignores a batch that breaks the graph):
    say it instead. `plait run` validates its file first; the API may be sent anything."""
    ids = [t.id for t in tasks]
    seen: set[str] = set()
    for tid in ids:
        if tid in seen or tid in state.specs:
            raise BadRequest(f"task id {tid!r} is given twice or taken", hint="ids are unique")
        if not is_valid_task_id(tid):
            raise BadRequest(f"{tid!r} is not a valid task id", hint="see `plait validate`")
        seen.add(tid)
    known = set(state.specs) | seen
    for t in tasks:
        for dep in t.depends_on:
            if dep == t.id or dep not in known:
                raise BadRequest(
                    f"task {t.id} depends on {dep!r}, which is not a task of the plan or project",
                    hint="fix the dependency graph (`plait validate PLAN` shows it)",
                )
    if has_cycle(tasks):
        raise BadRequest("the plan's dependencies form a cycle", hint="`plait validate PLAN`")


_ADD_FIELDS = frozenset(
    {"title", "body", "after", "agent", "landing", "class", "model", "id", "origin", "ports"}
)


def add_task(
    state: RunState, fields: Mapping[str, Any], *, now: float, agents: Sequence[str] = ()
) -> Command:
    """One task from `plait add` (or the API), validated like a plan's task."""
    unknown = sorted(set(fields) - _ADD_FIELDS)
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(unknown)}", hint=f"use: {', '.join(sorted(_ADD_FIELDS))}"
        )
    for key in ("title", "body", "model", "id", "agent"):
        _plain(_text(fields, key), key)
    title = _text(fields, "title").strip()
    if not title or "\n" in title:
        raise BadRequest("a task needs a one-line title", hint='plait add "Fix the login bug"')
    body = _text(fields, "body")
    landing = _text(fields, "landing") or "pr"
    if landing not in LANDINGS or landing == "watch":
        raise BadRequest(f"unknown landing {landing!r}", hint="use --landing pr, merge or none")
    cls = _text(fields, "class").upper() or None
    if cls is not None and cls not in TASK_CLASSES:
        raise BadRequest(f"unknown class {cls!r}", hint=f"use one of {', '.join(TASK_CLASSES)}")
    agent = _text(fields, "agent") or None
    if agent is not None and agents and agent not in agents:
        raise BadRequest(f"unknown agent {agent!r}", hint=f"use one of {', '.join(agents)}")
    after = fields.get("after") or []
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise BadRequest("`after` must be a list of task ids", hint="--after ID (repeatable)")
    deps = tuple(dict.fromkeys(resolve_task(state, a) for a in after))
    tid = _text(fields, "id") or unique_task_id(title, state.specs)
    if tid in state.specs:
        raise BadRequest(f"task id {tid!r} is taken", hint="pick another --id, or leave it out")
    if not is_valid_task_id(tid):
        raise BadRequest(
            f"{tid!r} is not a valid task id",
            hint="letters, digits, '.', '-', '_' (at most 64, no '..', not ending in '.')",
        )
    spec = TaskSpec(
        id=tid,
        title=title,
        description=body,
        task_class=cls,
        depends_on=deps,
        agent=agent,
        landing=landing,
        origin=_text(fields, "origin") or "cli",
        model=_text(fields, "model") or None,
        ports=_services(fields),
    )
    return Command(ev.TasksAdded(at=now, tasks=(spec,)), tid, f"added task {tid}", tasks=(tid,))


def adopt_event(info: PRInfo, *, merge: bool, now: float) -> ev.TaskAdopted:
    """An open PR becomes a task that plait keeps green (and merges, with `merge`)."""
    if info.state != "open":
        raise CommandError(f"PR #{info.number} is {info.state}", hint="adopt an open PR")
    spec = TaskSpec(
        id=f"pr-{info.number}",
        title=info.title,
        description=info.body,
        landing="pr" if merge else "watch",
        origin="adopt",
    )
    return ev.TaskAdopted(
        at=now,
        spec=spec,
        pr=info.number,
        branch=info.branch,
        base=info.base,
        head_sha=info.head_sha,
        draft=info.draft,
    )


def adopt(state: RunState, info: PRInfo, *, merge: bool, now: float) -> Command:
    event = adopt_event(info, merge=merge, now=now)
    if event.spec.id in state.specs:
        raise CommandError(
            f"PR #{info.number} is already task {event.spec.id}",
            hint=f"plait ps -p {state.config.project}",
        )
    return Command(
        event,
        event.spec.id,
        f"PR #{info.number} adopted as {event.spec.id}; plait keeps it green",
        tasks=(event.spec.id,),
    )


def unique_task_id(title: str, taken: Mapping[str, object]) -> str:
    """A readable id from a title ("fix-the-login-bug"), unique in the project."""
    base = slugify(title, fallback="task")[:40].strip("-.") or "task"
    return unique_name(base, taken)


def _plain(text: str, what: str) -> None:
    """Refuse characters nothing downstream (git, argv, a terminal) can take."""
    for _, char in text_characters(text):
        raise BadRequest(
            f"the {what} holds {describe(char)}",
            hint="remove it; plait passes text to git, agents and terminals",
        )


def text_field(fields: Mapping[str, Any], key: str) -> str:
    """A command's text field ("" when absent); anything but text is a bad request."""
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"`{key}` must be text", hint=f"give {key} as a string")
    return value


def _services(fields: Mapping[str, Any]) -> tuple[str, ...]:
    ports = fields.get("ports") or []
    ok = isinstance(ports, list) and all(
        isinstance(p, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,31}", p) for p in ports
    )
    if not ok:
        raise BadRequest("`ports` must be a list of service names", hint="--port web (repeatable)")
    return tuple(dict.fromkeys(ports))


_text = text_field
