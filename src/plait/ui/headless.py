"""Headless output: one readable line per event, or one JSON object per line (`--json`)."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import CIStatus, RunState
from plait.core.task import attention_reason, display_status


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
            if event.ok:
                cost = f", ${event.usage.cost_usd:.4f}" if event.usage.cost_usd else ""
                return (
                    f"agent finished {kind} turn in {event.seconds:.1f}s: "
                    f"{event.usage.total_tokens} tokens{cost}"
                )
            cool = new.cooldowns.get(new.specs[event.task].agent or new.config.agent)
            if cool is not None and event.failure == cool.reason:
                wait = max(0.0, cool.until - event.at)
                return (
                    f"agent hit a {event.failure.replace('_', ' ')}: the backend cools down "
                    f"for {wait:.0f}s, then the task resumes its session"
                )
            if event.failure == "stalled" and new.tasks[event.task].nudged:
                return f"agent went silent ({event.error}); nudging it once"
            return f"agent {kind} turn failed ({event.failure or 'error'}): {event.error}"
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
            }.get(step)
        case ev.StepFailed():
            prev = old.tasks[event.task] if old else None
            step = prev.step if prev else "step"
            return f"{step} failed: {event.error}"
        case ev.PRChanged():
            return _describe_pr(event, old)
        case ev.HumanMessage():
            return f"message from a human: {event.text}"
    return None


def _describe_pr(event: ev.PRChanged, old: RunState | None) -> str | None:
    prev = old.tasks[event.task].pr if old else None
    pr = event.pr
    parts: list[str] = []
    if pr.state == "merged" and (prev is None or prev.state != "merged"):
        parts.append("PR merged on the forge")
    if pr.ci != (prev.ci if prev else None) and pr.ci in (CIStatus.PASSED, CIStatus.FAILED):
        parts.append(f"CI {pr.ci.value} on {_short(pr.head_sha)}")
    known = {t.id for t in prev.threads} if prev else set()
    fresh = [t for t in pr.threads if t.id not in known]
    if fresh:
        parts.append(f"{len(fresh)} new review comment(s)")
    if pr.mergeable is False and (prev is None or prev.mergeable is not False):
        parts.append(f"conflicts with {pr.base}")
    return "; ".join(parts) or None


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
        line = describe(event, old, new)
        task_id = getattr(event, "task", None)
        if isinstance(task_id, str) and old is not None:
            was = attention_reason(old.tasks[task_id], old.config)
            now = attention_reason(new.tasks[task_id], new.config)
            if now and not was:
                line = f"{line}; NEEDS ATTENTION: {now}" if line else f"NEEDS ATTENTION: {now}"
        if line is not None:
            self._emit(event, new, task_id if isinstance(task_id, str) else None, line)
        for effect in effects:
            if isinstance(effect, fx.RunAgent):
                self._emit(
                    event,
                    new,
                    effect.task,
                    f"agent {effect.agent} starts a {effect.turn.kind} turn",
                )

    def _emit(self, event: ev.Event, state: RunState, task: str | None, line: str) -> None:
        if self.json_mode:
            obj: dict[str, object] = {
                "type": "event",
                "event": type(event).__name__,
                "at": round(event.at, 3),
                "task": task,
                "message": line,
            }
            if task is not None:
                obj["status"] = display_status(state.tasks[task], state.config)
            self.stream.write(json.dumps(obj) + "\n")
        else:
            elapsed = time.monotonic() - self.start
            who = f"[{task}] " if task else ""
            self.stream.write(f"{elapsed:7.2f}s {who}{line}\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        if self.json_mode:
            self.stream.write(json.dumps({"type": "note", "message": message}) + "\n")
        else:
            self.stream.write(message + "\n")
        self.stream.flush()
