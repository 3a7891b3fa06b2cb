"""Writes on GitHub issues as outbox effects.

How this works. The issue source decides *what* an issue should show (its `plait:` label
and status comment, a scheduled check's report, a follow-up issue); it does not write
it. It submits `IssueWriteAsked`, which the controller commits with a `WriteIssue` effect
whose id is made of the decision's sequence number and the write's key — the same id on
every replay. The effect waits in the outbox until the issue source's writer performs it
(`sources.issue_writer`), which looks for the write's hidden marker (or the label list)
before it acts, so a crash between GitHub doing it and the outbox recording it repeats
nothing. The state does not change: the event log holds the intent, the outbox its fate.
"""

from __future__ import annotations

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import IssueWrite, RunState


def effects_of(state: RunState, event: ev.Event) -> tuple[fx.Effect, ...]:
    """The outbox effect of an `IssueWriteAsked` (nothing for any other event)."""
    if not isinstance(event, ev.IssueWriteAsked):
        return ()
    write = event.write
    effect_id = f"issue-write/{state.events}/{write.kind}/{write.key}"
    return (fx.WriteIssue(id=effect_id, task=lane(write), write=write),)


def lane(write: IssueWrite) -> str:
    """What the engine serializes the write on: one issue's writes run in the order they
    were asked (a label flip never overtakes the one before it), and never wait for the
    agent turn of the issue's task."""
    return f"issue:{write.repo}#{write.number}"
