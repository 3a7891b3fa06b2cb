"""Notifications: what a decision made worth telling a person, as `Notify` effects.

How this works. Needs-attention, ready-for-a-human, over-budget and idle are derived facts
(functions of the state), so a notification belongs to the decision in which one of them
*becomes* true: `notices(before, after)` compares the state before an event with the state
after it and returns one effect per fact that turned true — one per episode, however long
it lasts. It looks only at the tasks the event changed. The effect id is made of the
decision's sequence number (`RunState.events`), the kind and the task, so replaying the
event log gives the same ids, and a notification resent after a crash carries the id its
receiver has seen. Nothing here runs unless the project asks for notifications
(`RunConfig.notify_on`).
"""

from __future__ import annotations

from plait.core import effects as fx
from plait.core.budget import project_over, task_over
from plait.core.model import Phase, RunState, TaskState
from plait.core.progress import settled, stuck_tasks
from plait.core.task import attention_reason
from plait.core.taskmap import TaskMap

KINDS = ("attention", "ready", "budget", "idle")
# What people can ask to be told about: the kinds above, and a foreground run that
# finished (said by the `plait run` that followed it, not by the core).
ALL_KINDS = (*KINDS, "finished")


def notices(before: RunState, after: RunState) -> tuple[fx.Notify, ...]:
    on = after.config.notify_on
    if not on:
        return ()
    out: list[fx.Notify] = []
    for tid in _changed(before, after):
        old = before.tasks.get(tid)
        if old is not None:
            out += _task_notices(before, after, old, after.tasks[tid], on)
    if "budget" in on and project_over(after) and not project_over(before):
        out.append(_project_budget(after))
    if "idle" in on and after.tasks and settled(after) and not settled(before):
        out.append(_idle(after))
    return tuple(out)


def _changed(before: RunState, after: RunState) -> list[str]:
    if isinstance(after.tasks, TaskMap):
        return after.tasks.changed_ids(before.tasks)
    return [tid for tid, t in after.tasks.items() if before.tasks.get(tid) is not t]


def _task_notices(
    before: RunState, after: RunState, old: TaskState, new: TaskState, on: tuple[str, ...]
) -> list[fx.Notify]:
    out: list[fx.Notify] = []
    if "attention" in on:
        why = attention_reason(new, after.config)
        if why and not attention_reason(old, before.config):
            out.append(_attention(after, new, why))
    if "ready" in on and new.ready_since and not old.ready_since and _for_a_human(after, new):
        out.append(_ready(after, new))
    if "budget" in on:
        why = task_over(after, new)
        if why and not task_over(before, old):
            out.append(_task_budget(after, new, why))
    return out


def _for_a_human(state: RunState, t: TaskState) -> bool:
    """A PR that waits for a person: one plait only keeps green (watch), or one plait
    merges only after the merge delay, so a person can look first."""
    landing = state.specs[t.id].landing
    return landing == "watch" or (landing == "pr" and state.config.merge_delay > 0)


def _notify(
    state: RunState, kind: str, task: str, title: str, text: str, url: str = ""
) -> fx.Notify:
    effect_id = f"notify/{state.events}/{kind}/{task or '-'}"
    return fx.Notify(id=effect_id, task=task, kind=kind, title=title, text=text, url=url)


def _attention(state: RunState, t: TaskState, why: str) -> fx.Notify:
    title = f"{state.config.project}: task {t.id} needs attention"
    text = (
        f'{state.specs[t.id].title}: {why}. Answer it with `plait send {t.id} "…"`, '
        f"or `plait retry {t.id}`."
    )
    return _notify(state, "attention", t.id, title, text, _url(t))


def _ready(state: RunState, t: TaskState) -> fx.Notify:
    number = t.pr.number if t.pr is not None else 0
    title = f"{state.config.project}: PR #{number} of task {t.id} is ready"
    if state.specs[t.id].landing == "watch":
        text = f"{state.specs[t.id].title}: green and mergeable; merging it is yours."
    else:
        delay = state.config.merge_delay
        text = (
            f"{state.specs[t.id].title}: green and mergeable; plait merges it in {delay:.0f}s "
            f"unless you stop it (`plait kill {t.id}`)."
        )
    return _notify(state, "ready", t.id, title, text, _url(t))


def _task_budget(state: RunState, t: TaskState, why: str) -> fx.Notify:
    title = f"{state.config.project}: task {t.id} reached its budget"
    text = (
        f"{state.specs[t.id].title}: {why}; its next agent turns wait. Raise it with "
        f"`plait budget -p {state.config.project} --task {t.id} --tokens N` or `--dollars D`."
    )
    return _notify(state, "budget", t.id, title, text, _url(t))


def _project_budget(state: RunState) -> fx.Notify:
    title = f"{state.config.project}: the project reached its budget"
    text = (
        f"{project_over(state)}; no new agent turn starts. Raise it with "
        f"`plait budget -p {state.config.project} --tokens N` or `--dollars D`."
    )
    return _notify(state, "budget", "", title, text)


def _idle(state: RunState) -> fx.Notify:
    landed = sum(1 for t in state.tasks.values() if t.phase is Phase.MERGED)
    waiting = len(stuck_tasks(state))
    title = f"{state.config.project} is idle"
    text = f"{landed} of {len(state.tasks)} tasks landed"
    if waiting:
        text += f"; {waiting} wait for you (`plait ps`)"
    return _notify(state, "idle", "", title, text + ".")


def _url(t: TaskState) -> str:
    return t.pr.url if t.pr is not None else ""
