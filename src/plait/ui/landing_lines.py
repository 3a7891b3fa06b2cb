"""Headless lines for merge landing, reviews and the swarm (see `ui.headless.describe`)."""

from __future__ import annotations

from plait.core import events as ev
from plait.core.model import Phase, RunState


def describe_landing(event: ev.Event, old: RunState | None, new: RunState) -> str | None:
    match event:
        case ev.Reviewed():
            who = f"{event.agent}/{event.model}" if event.model else event.agent
            if not event.ok:
                return f"reviewer {who} gave no verdict ({event.failure}): {event.error}"
            if event.approved:
                return f"reviewer {who}: APPROVED"
            n = len(event.issues)
            why = f" ({event.reason})" if event.reason else ""
            return f"reviewer {who}: NEEDS_CHANGES, {n} issue{'s' if n != 1 else ''}{why}"
        case ev.MergeRefused():
            return {
                "behind": "main moved on: syncing again",
                "conflict": "no longer merges cleanly: syncing again",
                "ci": "CI failed on the merge: handing it to the agent",
            }.get(event.why, f"merge refused: {event.why}")
        case ev.SwarmStarted():
            return "swarm started"
        case ev.SwarmStopping():
            return "swarm stopping: no new claims; turns under way finish their cycle"
    return None


def after_turn_note(event: ev.AgentFinished, old: RunState | None, new: RunState) -> str:
    """What a merge-landing worker's turn led to, when it is more than "finished"."""
    t = new.tasks.get(event.task)
    before = old.tasks.get(event.task) if old else None
    if t is None or before is None:
        return ""
    if t.phase is Phase.MERGED and before.phase is not Phase.MERGED and t.skipped:
        return f"; closed as skipped: {t.skipped}"
    if t.counters.returns > before.counters.returns:
        return f"; back to the queue: {t.last_error}"
    if t.resumes > before.resumes:
        return f"; no completion yet ({t.resumes}): resuming"
    return ""
