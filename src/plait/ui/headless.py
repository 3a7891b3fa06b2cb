"""Headless output: one readable line per event, or one JSON object per line (`--json`)."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.budget import project_over, task_status, waiting_on_budget
from plait.core.model import Budget, CIStatus, Overlap, RunState
from plait.core.money import usd
from plait.core.task import agent_of, attention_reason
from plait.store.timeline import Line
from plait.textsafe import inert
from plait.ui.landing_lines import after_turn_note, describe_landing


def _short(sha: str) -> str:
    return sha[:7]


def describe(event: ev.Event, old: RunState | None, new: RunState) -> str | None:
    """A human line for an event, or None when it says nothing worth a line."""
    match event:
        case ev.RunStarted():
            cfg = event.config
            return (
                f"run {cfg.project}: {len(event.tasks)} tasks, forge {cfg.forge}, "
                f"agent {cfg.agent}, concurrency {cfg.max_concurrency}"
            )
        case ev.WorkspaceReady():
            t = new.tasks[event.task]
            return f"worktree ready on {t.branch} (from {t.base_branch} {_short(event.base_sha)})"
        case ev.AgentFinished():
            prev = old.tasks[event.task] if old else None
            kind = prev.current.kind.value if prev and prev.current else "turn"
            if prev is not None and prev.nudged:
                kind = "nudge"
            elif prev is not None and prev.interrupted and prev.session_id:
                kind = "continue"  # as the turn was started (`scheduler`'s turn kinds)
            if event.interrupted_turns:
                kind = f"{kind} turn (carried on after a restart),"
            else:
                kind = f"{kind} turn"
            if event.ok:
                cost = f", {usd(event.usage.cost_usd)}" if event.usage.cost_usd else ""
                return (
                    f"agent finished {kind} in {event.seconds:.1f}s: "
                    f"{event.usage.total_tokens} tokens{cost}{after_turn_note(event, old, new)}"
                )
            cool = new.cooldowns.get(agent_of(new, event.task))
            if cool is not None and event.failure == cool.reason:
                wait = max(0.0, cool.until - event.at)
                return (
                    f"agent hit a {event.failure.replace('_', ' ')}: the backend cools down "
                    f"for {wait:.0f}s, then the task resumes its session"
                )
            if event.failure == "stalled" and new.tasks[event.task].nudged:
                return f"agent went silent ({event.error}); nudging it once"
            if event.failure == "killed":
                return "agent stopped; `plait retry` continues its session"
            return f"agent {kind.rstrip(',')} failed ({event.failure or 'error'}): {event.error}"
        case ev.Pushed():
            return f"pushed {_short(event.head_sha)}"
        case ev.PROpened():
            t = new.tasks[event.task]
            return f"opened draft PR #{event.number} into {t.base_branch}"
        case ev.Rebased():
            t = new.tasks[event.task]
            return f"rebased onto {t.base_branch} {_short(event.base_sha)}"
        case ev.RebaseConflict():
            return f"rebase conflicts in {', '.join(event.paths)}: handing it to the agent"
        case ev.Merged():
            t = new.tasks[event.task]
            pr = f"PR #{t.pr.number} " if t.pr else ""
            return f"merged {pr}into {new.config.main_branch} as {_short(event.sha)}"
        case ev.StepDone():
            prev = old.tasks[event.task] if old else None
            step = prev.step if prev else ""
            t = new.tasks[event.task]
            return {
                "ready": "PR is ready for review",
                "retarget": f"PR retargeted to {t.base_branch}",
                "resolve": "review threads answered and resolved",
                "cleanup": "worktree removed",
                "discard": "branch, worktree and PR discarded; starting over",
            }.get(step)
        case ev.StepFailed():
            prev = old.tasks[event.task] if old else None
            step = prev.step if prev else "step"
            if event.held:  # it waits, not fails: said once, not at every try
                same = prev is not None and prev.last_error == event.error
                return None if same else f"{step} waits: {event.error}"
            return f"{step} failed: {event.error}"
        case ev.PRChanged():
            return _describe_pr(event, old)
        case ev.HumanMessage():
            return f"message from a human: {event.text}"
        case ev.TasksAdded():
            return _describe_added(event, old, new)
        case ev.TaskKilled():
            return f"stopped: {event.reason}" if _changed(event.task, old, new) else None
        case ev.TaskRetried():
            return "retried: goes again" if _changed(event.task, old, new) else None
        case ev.TaskReset():
            if not _changed(event.task, old, new):
                return None
            return (
                "reset --hard: its work is discarded" if event.hard else "reset: counters cleared"
            )
        case ev.LandingRouted() if old is not None and old.specs.get(event.task) != new.specs.get(
            event.task
        ):
            who = "a person merges it" if event.landing == "watch" else "plait merges it"
            return f"routed: {who} ({event.reason})" if event.reason else f"routed: {who}"
        case ev.RiskAssessed() if event.tier and _changed(event.task, old, new):
            why = f" ({event.reason})" if event.reason else ""
            routed = "; a person merges it" if event.tier == "human" else ""
            return f"risk: {event.tier}{why}{routed}"
        case ev.ConfigChanged():
            return "settings changed"
        case ev.BudgetSet():
            return _describe_budget(event, new)
        case ev.OverlapsChanged():
            return _describe_overlaps(event, old, new)
        case ev.NotificationSent() if not event.ok:
            return f"a notification was not delivered: {event.error}"
        case ev.IssueWritten() if not event.ok:
            return f"GitHub refused a write on issue {event.error}"
        case ev.Reviewed() | ev.MergeRefused() | ev.SwarmStarted() | ev.SwarmStopping():
            return describe_landing(event, old, new)
    return None


def _describe_budget(event: ev.BudgetSet, new: RunState) -> str:
    if event.task and event.task not in new.tasks:
        return f"no task {event.task} to set a budget for"
    change = _limit_words(Budget(tokens=event.tokens, dollars=event.dollars))
    whose = f"task {event.task}" if event.task else "the project"
    return f"budget of {whose} set: {change}"


def _limit_words(b: Budget) -> str:
    parts = []
    if b.tokens is not None:
        parts.append(f"{b.tokens:,} tokens" if b.tokens else "no token limit")
    if b.dollars is not None:
        parts.append(usd(b.dollars) if b.dollars else "no dollar limit")
    return ", ".join(parts) or "unchanged"


def _describe_overlaps(
    event: ev.OverlapsChanged, old: RunState | None, new: RunState
) -> str | None:
    t = new.tasks.get(event.task)
    if t is None or old is None or old.tasks.get(event.task) == t:
        return None  # unknown, landed, or nothing new
    if not t.overlaps:
        return "no longer conflicts with other work"
    return "may conflict: " + "; ".join(_overlap_words(o) for o in t.overlaps)


def _overlap_words(o: Overlap) -> str:
    paths = ", ".join(o.paths[:4]) + (" …" if len(o.paths) > 4 else "")
    who = f"task {o.task}" if o.task else "main"
    return f"with {who} in {paths}"


def _changed(task: str, old: RunState | None, new: RunState) -> bool:
    return old is None or task not in old.tasks or old.tasks[task] != new.tasks.get(task)


def _describe_added(event: ev.TasksAdded, old: RunState | None, new: RunState) -> str | None:
    if old is not None and all(t.id in old.specs for t in event.tasks):
        return None  # refused (the sources check first) or added already
    n = len(event.tasks)
    ids = ", ".join(t.id for t in event.tasks[:6]) + (" …" if n > 6 else "")
    source = f" of plan {event.plan}" if event.plan else ""
    return f"added {n} task{'s' if n != 1 else ''}{source}: {ids}"


def _describe_pr(event: ev.PRChanged, old: RunState | None) -> str | None:
    prev = old.tasks[event.task].pr if old else None
    pr = event.pr
    parts: list[str] = []
    if pr.state == "merged" and (prev is None or prev.state != "merged"):
        parts.append("PR merged on the forge")
    if pr.ci != (prev.ci if prev else None) and pr.ci in (CIStatus.PASSED, CIStatus.FAILED):
        if pr.ci is CIStatus.PASSED and pr.ci_evidence:
            parts.append(f"{pr.ci_evidence}: {_short(pr.head_sha)} counts as green")
        else:
            parts.append(f"CI {pr.ci.value} on {_short(pr.head_sha)}")
    known = {t.id for t in prev.threads} if prev else set()
    fresh = [t for t in pr.threads if t.id not in known]
    if fresh:
        parts.append(f"{len(fresh)} new review comment(s)")
    if pr.mergeable is False and (prev is None or prev.mergeable is not False):
        parts.append(f"conflicts with {pr.base}")
    return "; ".join(parts) or None


def event_messages(
    event: ev.Event, old: RunState | None, new: RunState, effects: tuple[fx.Effect, ...]
) -> list[tuple[str | None, str]]:
    """The human lines a decided event gives, each with the task it is about. Every face
    (headless lines, the API's event stream, the TUI, the dashboard) shows these."""
    return _messages(event, old, new, effects, project_over(new))


def _messages(
    event: ev.Event,
    old: RunState | None,
    new: RunState,
    effects: tuple[fx.Effect, ...],
    over: str,
) -> list[tuple[str | None, str]]:
    """`event_messages`, given `project_over(new)` (asked once per event: P2)."""
    out: list[tuple[str | None, str]] = []
    line = describe(event, old, new)
    task_id = getattr(event, "task", None)
    task = task_id if isinstance(task_id, str) and task_id in new.tasks else None
    if task is not None and old is not None and task in old.tasks:
        before, after = old.tasks[task], new.tasks[task]
        # The reason is the task's and the settings' alone: the same objects, the same
        # reason, so nothing became urgent (most events of a batch: its other tasks').
        if before is not after or old.config is not new.config:
            was = attention_reason(before, old.config)
            now = attention_reason(after, new.config)
            if now and not was:
                line = f"{line}; NEEDS ATTENTION: {now}" if line else f"NEEDS ATTENTION: {now}"
        held = waiting_on_budget(new, after, project=over)
        if held and not waiting_on_budget(old, before):
            line = f"{line}; OVER BUDGET: {held}" if line else f"OVER BUDGET: {held}"
    if line is not None:
        out.append((task, line))
    if old is not None and over and not project_over(old):
        out.append((None, f"OVER BUDGET: {over}; no new agent turn starts (`plait budget`)"))
    if isinstance(event, ev.Tick) and event.carried:
        out.extend(_carried_on(new, event.carried))
    for effect in effects:
        if isinstance(effect, fx.RunAgent):
            out.append((effect.task, f"agent {effect.agent} starts a {effect.turn.kind} turn"))
    return out


def _carried_on(state: RunState, effect_ids: tuple[str, ...]) -> list[tuple[str | None, str]]:
    """The agent turns a restart carries on (cut off when the engine stopped)."""
    out: list[tuple[str | None, str]] = []
    for t in state.tasks.values():
        if t.in_flight not in effect_ids or t.current is None:
            continue
        kind = t.current.kind.value
        if t.nudged:
            kind = "nudge"
        elif t.interrupted and t.session_id:
            kind = "continue"
        out.append((t.id, f"agent {agent_of(state, t.id)} carries on its {kind} turn after "
                          "a restart"))  # fmt: skip
    return out


def timeline_lines(
    event: ev.Event, old: RunState | None, new: RunState, effects: tuple[fx.Effect, ...]
) -> tuple[Line, ...]:
    """The lines the project's timeline keeps for a decided event (the engine's narrator)."""
    over = project_over(new)
    return tuple(
        Line(task, line, status_word(new, task, project=over) if task is not None else None)
        for task, line in _messages(event, old, new, effects, over)
    )


def status_word(state: RunState, task: str, *, project: str | None = None) -> str:
    """The task's status word; `project`: `project_over(state)`, when the caller has it."""
    return task_status(state, state.tasks[task], project=project)


class Printer:
    """The engine's observer for headless runs."""

    def __init__(self, *, json_mode: bool = False, stream: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self.stream = stream or sys.stdout
        self.start = time.monotonic()

    def __call__(
        self,
        event: ev.Event,
        old: RunState | None,
        new: RunState,
        effects: tuple[fx.Effect, ...],
    ) -> None:
        for task, line in event_messages(event, old, new, effects):
            self._emit(event, new, task, line)

    def _emit(self, event: ev.Event, state: RunState, task: str | None, line: str) -> None:
        status = status_word(state, task) if task is not None else None
        self.line(
            {
                "type": "event",
                "event": type(event).__name__,
                "at": round(event.at, 3),
                "task": task,
                "message": line,
                "status": status,
            }
        )

    def line(self, message: dict[str, object]) -> None:
        """Print one event message (from this engine or a running one's event stream)."""
        if self.json_mode:
            obj = {
                "type": "event",
                "event": message.get("event"),
                "at": message.get("at"),
                "task": message.get("task"),
                "message": message.get("message"),
            }
            if message.get("task") is not None:
                obj["status"] = message.get("status")
            self.stream.write(json.dumps(obj) + "\n")
        else:
            elapsed = time.monotonic() - self.start
            task = message.get("task")
            who = f"[{task}] " if task else ""
            text = inert(str(message.get("message")))  # may quote an agent: shown, not obeyed
            self.stream.write(f"{elapsed:7.2f}s {who}{text}\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        if self.json_mode:
            self.stream.write(json.dumps({"type": "note", "message": message}) + "\n")
        else:
            self.stream.write(message + "\n")
        self.stream.flush()
